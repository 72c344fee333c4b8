"""The offloading module's plugin object (entry point ``liqo.modules: offloading``).

It declares what the module owns. The controllers (virtual nodes, namespace offloading,
shadow pods) register their kopf handlers here as they are written.
"""

from __future__ import annotations

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
    def liqo_replicated_resources(self) -> list[ReplicatedResource]:
        """NamespaceMaps travel to the provider (spec out, status back)."""
        from liqo_core.api.offloading_namespace import NamespaceMap

        return [ReplicatedResource.of(NamespaceMap)]
