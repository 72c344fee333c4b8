"""The identity-provider contract: who issues the credentials a provider gives its consumers.

A provider cluster issues one credential per consumer control plane (the Tenant) and one
per accepted ResourceSlice. By default the authentication module signs the consumer's CSR
through the Kubernetes CSR API (``kubernetes-csr``); clusters whose API server signs no
client certificates use ServiceAccount tokens (``serviceaccount-token``). Any plugin can
bring another by answering :func:`~liqo_core.hookspecs.liqo_identity_provider` for the
name users write in ``authentication.identityProvider``.

The controllers call :meth:`IdentityProvider.issue` when a credential is missing or has
passed 2/3 of its lifetime, bind the RBAC :meth:`IdentityProvider.subjects` name, and call
:meth:`IdentityProvider.revoke` when the Tenant or slice goes away. Issuing must be
idempotent: the controller may be killed between issuing and recording a credential.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from liqo_core.errors import PluginContractError, SettingsError

if TYPE_CHECKING:
    from liqo_core.kube import JSONObject, Kube
    from liqo_core.settings import LiqoSettings

#: What a credential is for: a consumer's control plane, or one ResourceSlice.
IdentityType = Literal["ControlPlane", "ResourceSlice"]


@dataclass(frozen=True)
class CredentialRequest:
    """One credential a provider issues to a consumer.

    :param consumer_cluster_id: The consumer's cluster id.
    :param identity_type: ``ControlPlane`` (Tenant) or ``ResourceSlice``.
    :param name: Unique among this consumer's credentials of this type: the Tenant name
        for the control plane, the slice name for a slice.
    :param tenant_namespace: The consumer's tenant namespace on this (provider) cluster.
    :param user: The user name the credential authenticates as, for certificates the CSR's
        CN (the consumer id for the control plane, the slice CN for a slice).
    :param groups: The groups it must belong to: none for the control plane (whose CSR's O
        is the shared ``liqo.io``), the consumer id for a slice (so every slice of a
        consumer shares what is bound to Group ``<consumer>``).
    :param csr: The consumer's PEM CSR (signed with its private key), when it sent one.
    """

    consumer_cluster_id: str
    identity_type: IdentityType
    name: str
    tenant_namespace: str
    user: str
    groups: tuple[str, ...]
    csr: bytes | None = None


@dataclass(frozen=True)
class IssuedCredential:
    """A credential as issued: exactly one of ``signed_crt`` and ``token`` is set.

    :param signed_crt: PEM client certificate for the consumer's own private key.
    :param token: Bearer token.
    :param not_before: Start of validity.
    :param not_after: End of validity (the controllers renew at 2/3 of the lifetime).
    """

    not_before: datetime
    not_after: datetime
    signed_crt: bytes | None = None
    token: str | None = None


class IdentityProvider(abc.ABC):
    """Issues and revokes consumers' credentials on a provider cluster."""

    #: The name users select in ``authentication.identityProvider``.
    name: ClassVar[str]

    @abc.abstractmethod
    async def issue(self, api: Kube, request: CredentialRequest) -> IssuedCredential:
        """Issue a fresh credential for ``request`` (idempotent on retries)."""

    @abc.abstractmethod
    def subjects(self, request: CredentialRequest) -> list[JSONObject]:
        """RBAC subjects (``{"kind", "name", "apiGroup"|"namespace"}``) the credential
        authenticates as: what the controllers bind roles to."""

    async def revoke(self, api: Kube, request: CredentialRequest) -> None:  # noqa: B027
        """Remove what :meth:`issue` created for ``request`` (nothing by default)."""


def resolve_identity_provider(hooks: Any, name: str, settings: LiqoSettings) -> IdentityProvider:
    """Ask the enabled plugins (``hooks``: the plugin manager's hook relay) for the
    identity provider ``name``.

    :raises SettingsError: no enabled plugin answers for ``name``.
    :raises PluginContractError: the answer is not an :class:`IdentityProvider`.
    """
    answer = hooks.liqo_identity_provider(name=name, settings=settings)
    if answer is None:
        raise SettingsError(
            f"invalid setting authentication.identityProvider: no enabled plugin provides "
            f"identity provider {name!r} (the authentication module provides "
            "'kubernetes-csr' and 'serviceaccount-token')"
        )
    if not isinstance(answer, IdentityProvider):
        raise PluginContractError(
            "identity provider",
            name,
            "unknown",
            f"identity provider {name!r} is {answer!r}, not a liqo_core.identity.IdentityProvider",
        )
    return answer
