"""The authentication module's plugin object (entry point ``liqo.modules: authentication``).

It declares what the module owns. The controllers (handshake, Tenant, Identity,
ResourceSlice, Renew) register their kopf handlers here as they are written.
"""

from __future__ import annotations

from collections.abc import Callable

import kopf
import typer

from liqo_core import LiqoSettings, ModuleInfo, hookimpl
from liqo_core.identity import IdentityProvider
from liqo_core.peering import PeeringStep
from liqo_core.peers import PeerStatusSource

INFO = ModuleInfo(
    description="Declarative peering: key-exchange handshake, tenants, identities, slices",
    api_groups=("authentication.liqo.io",),
    kinds=("Tenant", "Identity", "ResourceSlice", "Renew"),
    controllers=(
        "secret_noncecreator",
        "secret_noncesigner",
        "tenant",
        "identity",
        "resourceslice_local",
        "resourceslice_remote",
        "identity_creator",
        "renew_local",
        "renew_remote",
    ),
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
    def liqo_register_handlers(self, registry: kopf.OperatorRegistry) -> None:
        """Start-up key pair, nonce, tenant and identity controllers."""
        from liqo_auth.controllers import register

        register(registry, self.settings)

        from liqo_auth import replication  # CRD replicator (NamespaceMap, ResourceSlice, Renew)

        replication.register(registry, self.settings)

    @hookimpl(trylast=True)
    def liqo_identity_provider(self, name: str) -> IdentityProvider | None:
        """``kubernetes-csr`` (the default) and ``serviceaccount-token``; other names are
        left to other plugins."""
        from liqo_auth.providers.kubernetes_csr import KubernetesCSRProvider
        from liqo_auth.providers.serviceaccount_token import ServiceAccountTokenProvider

        lifetime = self.settings.authentication.credential_lifetime
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
