"""The authentication module's plugin object (entry point ``liqo.modules: authentication``).

It declares what the module owns. The controllers (handshake, Tenant, Identity,
ResourceSlice, Renew) register their kopf handlers here as they are written.
"""

from __future__ import annotations

from collections.abc import Callable

import kopf
import pluggy
import typer

from liqo_auth.settings import auth_settings
from liqo_core import LiqoSettings, ModuleInfo, hookimpl
from liqo_core.identity import IdentityProvider
from liqo_core.peering import PeeringStep
from liqo_core.peers import PeerStatusSource
from liqo_core.replication import ReplicatedResource

INFO = ModuleInfo(
    description="Declarative peering: key-exchange handshake, tenants, identities, slices",
    api_groups=("authentication.liqo.io",),
    kinds=("Tenant", "Identity", "ResourceSlice", "Renew"),
    values_key="authentication",
)


class AuthenticationModule:
    """Authentication module: hosts its controllers in the controller-manager."""

    def __init__(self, settings: LiqoSettings) -> None:
        self.settings = settings

    @hookimpl
    def liqo_module_info(self) -> ModuleInfo:
        """Declare the authentication module's API group, kinds and controllers."""
        return INFO

    @hookimpl
    def liqo_register_handlers(
        self, registry: kopf.OperatorRegistry, hooks: pluggy.HookRelay
    ) -> None:
        """Start-up key pair, nonce, tenant and identity controllers, with the identity
        provider ``authentication.identityProvider`` names (any enabled plugin may answer)."""
        from liqo_auth.controllers import register
        from liqo_core.identity import resolve_identity_provider

        name = auth_settings(self.settings).identity_provider
        register(registry, self.settings, resolve_identity_provider(hooks, name, self.settings))

    @hookimpl
    def liqo_replicated_resources(self) -> list[ReplicatedResource]:
        """ResourceSlices and Renews travel to the provider (spec out, status back)."""
        from liqo_core.api.authentication_v1beta1 import Renew, ResourceSlice

        return [ReplicatedResource.of(ResourceSlice), ReplicatedResource.of(Renew)]

    @hookimpl(trylast=True)
    def liqo_identity_provider(self, name: str) -> IdentityProvider | None:
        """``kubernetes-csr`` (the default) and ``serviceaccount-token``; other names are
        left to other plugins."""
        from liqo_auth.providers.kubernetes_csr import KubernetesCSRProvider
        from liqo_auth.providers.serviceaccount_token import ServiceAccountTokenProvider

        lifetime = auth_settings(self.settings).credential_lifetime
        providers: dict[str, Callable[[], IdentityProvider]] = {
            KubernetesCSRProvider.name: lambda: KubernetesCSRProvider(lifetime),
            ServiceAccountTokenProvider.name: lambda: ServiceAccountTokenProvider(lifetime),
        }
        chosen = providers.get(name)
        return chosen() if chosen is not None else None

    @hookimpl
    def liqo_peer_status_sources(self) -> list[PeerStatusSource]:
        """Tenants, ControlPlane Identities and kubeconfigs, ResourceSlices of each peer."""
        from liqo_auth.peer_status import SOURCE

        return [SOURCE]

    @hookimpl
    def liqo_cli_commands(self, app: typer.Typer) -> None:
        """Handshake helpers, ``authenticate``, slices, kubeconfigs, reservation controls."""
        from liqo_auth.cli import register_commands

        register_commands(app)

    @hookimpl
    def liqo_peering_steps(self) -> list[PeeringStep]:
        """Tenant namespaces, the handshake and a ResourceSlice, for ``liqoctl peer``."""
        from liqo_auth.cli.steps import peering_steps

        return peering_steps()
