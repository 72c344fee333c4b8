"""``serviceaccount-token``: bearer tokens of per-credential ServiceAccounts.

For API servers that sign no client certificates (e.g. EKS). Each credential is a
ServiceAccount in the consumer's tenant namespace, ``liqo-<user>`` (lower-cased, with a
hash suffix when the user name is not a valid or short enough name), labelled
``liqo.io/remote-cluster-id=<consumer>`` and ``liqo.io/identity-type=<type>``. Issuing
asks the TokenRequest API for a token of ``authentication.credentialLifetime`` seconds
(3600 when unset, at least the API's 10-minute minimum) for the default audiences; a retry
reuses the ServiceAccount and just asks for a new token. Revoking deletes the
ServiceAccount, which invalidates every token issued for it.

The consumer's proof of identity is unchanged: the Tenant controller verifies the nonce
signature and the CSR's subject and key before anything is issued; the CSR itself is not
signed. The token then travels where a certificate would (Tenant ``status.authParams``,
the consumer's Identity, Secret ``liqo-remote-certificate``, see :mod:`liqo_auth.tokens`):
unlike a certificate it is a bearer credential, so reading Tenants and Identities must be
restricted like reading Secrets. It is never logged nor put in events.

Groups: a token authenticates as ``system:serviceaccount:<ns>:<name>`` and carries only
the built-in ``system:serviceaccounts[:<ns>]`` groups, never Group ``<consumer>`` that a
certificate's O carries. Binding ``system:serviceaccounts:<tenant namespace>`` instead
would also grant every other ServiceAccount of that namespace (e.g. ``default``), so
:meth:`subjects` returns the ServiceAccount alone, and what upstream binds to Group
``<consumer>`` (``virtual-kubelet-remote-clusterwide``) is bound to each member
ServiceAccount, i.e. each credential requested with that group, by its issuer (see
:func:`liqo_auth.tenant.bind_consumer`). The control plane is no member, as upstream.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from urllib.parse import quote

from liqo_core.api.consts import IDENTITY_TYPE_LABEL, REMOTE_CLUSTER_ID_LABEL
from liqo_core.identity import CredentialRequest, IdentityProvider, IssuedCredential
from liqo_core.kube import JSONObject, Kube

#: Token lifetime when ``authentication.credentialLifetime`` is unset.
DEFAULT_LIFETIME = 3600
#: The TokenRequest API rejects shorter lifetimes.
MIN_LIFETIME = 600
#: Longest ServiceAccount name produced (a DNS label, so it can also be a label value).
MAX_NAME = 63
_INVALID = re.compile(r"[^a-z0-9-]+")


def service_account_name(request: CredentialRequest) -> str:
    """``liqo-<user>``, hashed and truncated when ``user`` is no short DNS label."""
    cleaned = _INVALID.sub("-", request.user.lower()).strip("-")
    name = f"liqo-{cleaned}"
    if cleaned == request.user and len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(request.user.encode()).hexdigest()[:10]
    return f"{name[: MAX_NAME - len(digest) - 1].rstrip('-')}-{digest}"


def _service_accounts_path(namespace: str, name: str | None = None) -> str:
    base = f"/api/v1/namespaces/{quote(namespace)}/serviceaccounts"
    return f"{base}/{quote(name)}" if name else base


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise RuntimeError("the TokenRequest answer has no status.expirationTimestamp")
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


class ServiceAccountTokenProvider(IdentityProvider):
    """One ServiceAccount per credential; its TokenRequest tokens are the credentials."""

    name: ClassVar[str] = "serviceaccount-token"

    def __init__(self, lifetime: float | None = None) -> None:
        """:param lifetime: Token lifetime in seconds (``authentication.credentialLifetime``)."""
        seconds = DEFAULT_LIFETIME if lifetime is None else int(lifetime)
        self.expiration_seconds = max(MIN_LIFETIME, seconds)

    async def _ensure_service_account(self, api: Kube, request: CredentialRequest) -> str:
        name = service_account_name(request)
        labels = {
            REMOTE_CLUSTER_ID_LABEL: request.consumer_cluster_id,
            IDENTITY_TYPE_LABEL: request.identity_type,
        }
        body = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": request.tenant_namespace, "labels": labels},
        }
        namespace = request.tenant_namespace
        if await api.create(_service_accounts_path(namespace), body) is None:
            existing = await api.get(_service_accounts_path(namespace, name)) or {}
            meta = existing.get("metadata") or {}
            if meta.get("deletionTimestamp"):
                raise RuntimeError(f"ServiceAccount {namespace}/{name} is being deleted")
            current = meta.get("labels") or {}
            if any(current.get(key) != value for key, value in labels.items()):
                patch = {"metadata": {"labels": labels}}
                await api.merge_patch(_service_accounts_path(namespace, name), patch)
        return name

    async def issue(self, api: Kube, request: CredentialRequest) -> IssuedCredential:
        """Ensure the ServiceAccount, then ask the TokenRequest API for a token."""
        name = await self._ensure_service_account(api, request)
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": self.expiration_seconds},
        }
        not_before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
        path = _service_accounts_path(request.tenant_namespace, name) + "/token"
        answer = await api.request("POST", path, body)
        status = answer.get("status") or {}
        token = status.get("token")
        if not isinstance(token, str) or not token:
            raise RuntimeError(f"the TokenRequest for ServiceAccount {name} returned no token")
        return IssuedCredential(
            not_before=not_before,
            not_after=_parse_time(status.get("expirationTimestamp")),
            token=token,
        )

    def subjects(self, request: CredentialRequest) -> list[JSONObject]:
        """The ServiceAccount (tokens carry none of ``request.groups``)."""
        return [
            {
                "kind": "ServiceAccount",
                "name": service_account_name(request),
                "namespace": request.tenant_namespace,
            }
        ]

    async def revoke(self, api: Kube, request: CredentialRequest) -> None:
        """Delete the ServiceAccount: its tokens stop authenticating."""
        path = _service_accounts_path(request.tenant_namespace, service_account_name(request))
        await api.delete(path)
