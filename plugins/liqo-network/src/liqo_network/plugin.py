"""The networking module's plugin object (entry point ``liqo.modules: networking``).

It declares what the module owns. The controllers (IPAM, gateways, fabric, route and
firewall configuration) register their kopf handlers here as they are written.
"""

from __future__ import annotations

from liqo_core import LiqoSettings, ModuleInfo, hookimpl

INFO = ModuleInfo(
    description="IPAM with CIDR remapping, inter-cluster gateways, intra-cluster fabric",
    api_groups=("networking.liqo.io", "ipam.liqo.io"),
    kinds=(
        "Configuration",
        "GatewayServer",
        "GatewayClient",
        "PublicKey",
        "Connection",
        "InternalNode",
        "InternalFabric",
        "GeneveTunnel",
        "RouteConfiguration",
        "FirewallConfiguration",
        "Network",
        "IP",
    ),
    values_key="networking",
)


class NetworkingModule:
    """Networking module: hosts its controllers in the controller-manager."""

    def __init__(self, settings: LiqoSettings) -> None:
        self.settings = settings

    @hookimpl
    def liqo_module_info(self) -> ModuleInfo:
        """Declare the networking module's API groups, kinds and controllers."""
        return INFO
