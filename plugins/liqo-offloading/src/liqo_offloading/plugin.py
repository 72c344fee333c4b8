"""The offloading module's plugin object (entry point ``liqo.modules: offloading``).

It declares what the module owns and hosts its controllers and webhooks
(:mod:`liqo_offloading.controllers`) in the controller-manager; the ``virtual-kubelet``
role comes through entry-point group ``liqo.roles``.
"""

from __future__ import annotations

import kopf
import typer

from liqo_core import LiqoSettings, ModuleInfo, hookimpl
from liqo_core.replication import ReplicatedResource

INFO = ModuleInfo(
    description="Virtual nodes, resource reflection and namespace offloading",
    api_groups=("offloading.liqo.io",),
    kinds=(
        "VirtualNode",
        "VkOptionsTemplate",
        "NamespaceOffloading",
        "NamespaceMap",
        "ShadowPod",
        "ShadowEndpointSlice",
        "Quota",
    ),
    values_key="offloading",
)


class OffloadingModule:
    """Offloading module: hosts its controllers in the controller-manager."""

    def __init__(self, settings: LiqoSettings) -> None:
        self.settings = settings

    @hookimpl
    def liqo_module_info(self) -> ModuleInfo:
        """Declare the offloading module's API group, kinds and controllers."""
        return INFO

    @hookimpl
    def liqo_register_handlers(self, registry: kopf.OperatorRegistry) -> None:
        """VirtualNode, NamespaceOffloading, NamespaceMap and ShadowPod controllers, with
        their admission webhooks."""
        from liqo_offloading.controllers import register

        register(registry, self.settings)

    @hookimpl
    def liqo_replicated_resources(self) -> list[ReplicatedResource]:
        """NamespaceMaps travel to the provider (spec out, status back)."""
        from liqo_core.api.offloading_namespace import NamespaceMap

        return [ReplicatedResource.of(NamespaceMap)]

    @hookimpl
    def liqo_cli_commands(self, app: typer.Typer) -> None:
        """``offload|unoffload namespace``, ``create|delete virtualnode``."""
        from liqo_offloading.cli import register_commands

        register_commands(app)
