"""kindnet, one per node: routes to the other nodes' podCIDRs, and masquerade.

Two small concerns, each rebuilt from the API and applied as a difference:

* **routes**: from the Node informer, every other node's ``spec.podCIDR`` via its
  InternalIP, when that address lies on the sandbox network (virtual nodes and nodes
  elsewhere are left out). Routes are installed with protocol :data:`ROUTE_PROTOCOL`, so
  the loop reads back exactly its own routes (``ip route show proto 77``) and touches
  nothing else: routes another component adds (Liqo's fabric, say) are left alone;
* **masquerade** (kindnet's ip-masq-agent): table ``ip kindnet`` in the node's namespace
  masquerades what pods send out of ``eth0`` to addresses outside the cluster's pod CIDR,
  so a pod reaches the host and other clusters' nodes with its node's address, as on kind.
  Traffic leaving by another interface (a tunnel) keeps its pod address.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any

from liqo_core.kube import Informer
from liqo_core.sandbox.controllerruntime import run_when_synced, work_queue
from liqo_core.sandbox.netns import ip
from liqo_core.sandbox.nodes import NodeSpec
from liqo_core.sandbox.topology import run_in

JSON = dict[str, Any]
log = logging.getLogger(__name__)

ROUTE_PROTOCOL = "77"
MASQ_TABLE = "kindnet"
KEY = "routes"


def internal_ip(node: JSON) -> str | None:
    """The node's InternalIP, if it reports one."""
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address.get("address"))
    return None


def desired_routes(nodes: list[JSON], own: str, subnet: str) -> dict[str, str]:
    """podCIDR → next hop for every node but ``own`` reachable on ``subnet``."""
    network = ipaddress.ip_network(subnet)
    routes: dict[str, str] = {}
    for node in nodes:
        if node["metadata"]["name"] == own:
            continue
        cidr = (node.get("spec") or {}).get("podCIDR")
        via = internal_ip(node)
        if not cidr or not via:
            continue
        try:
            if ipaddress.ip_address(via) not in network:
                continue
            cidr = str(ipaddress.ip_network(cidr))
        except ValueError:
            continue
        routes[cidr] = via
    return routes


def route_commands(desired: dict[str, str], actual: dict[str, str]) -> list[str]:
    """``ip -batch`` lines turning ``actual`` into ``desired``."""
    lines = [
        f"route replace {cidr} via {via} proto {ROUTE_PROTOCOL}"
        for cidr, via in sorted(desired.items())
        if actual.get(cidr) != via
    ]
    lines += [
        f"route del {cidr} proto {ROUTE_PROTOCOL}" for cidr in sorted(actual) if cidr not in desired
    ]
    return lines


def masquerade_ruleset(cluster_pod_cidr: str) -> str:
    """The ``ip kindnet`` table, replacing whatever it held."""
    return "\n".join(
        [
            f"add table ip {MASQ_TABLE}",
            f"delete table ip {MASQ_TABLE}",
            f"table ip {MASQ_TABLE} {{",
            "  chain postrouting {",
            "    type nat hook postrouting priority 100; policy accept;",
            f'    oifname "eth0" ip saddr {cluster_pod_cidr} ip daddr != {cluster_pod_cidr} '
            "masquerade",
            "  }",
            "}",
            "",
        ]
    )


class NodeRoutes:
    """kindnet on one node: masquerade once, then routes whenever Nodes change."""

    def __init__(self, node: NodeSpec, nodes: Informer, cluster_pod_cidr: str, subnet: str) -> None:
        self.node = node
        self.nodes = nodes
        self.cluster_pod_cidr = cluster_pod_cidr
        self.subnet = subnet
        self.queue = work_queue()
        self._masquerading = False
        nodes.add_handler(lambda kind, obj: self.queue.add(KEY))

    async def actual_routes(self) -> dict[str, str]:
        """This loop's routes in the node's namespace."""
        shown = await ip("-n", self.node.netns, "-j", "route", "show", "proto", ROUTE_PROTOCOL)
        return {
            str(ipaddress.ip_network(r["dst"])): str(r.get("gateway", ""))
            for r in json.loads(shown or "[]")
            if r.get("dst") and r.get("dst") != "default"
        }

    async def reconcile(self, key: str) -> None:
        """Converge masquerade (first time) and routes."""
        if not self._masquerading:
            await run_in(
                self.node.netns, "nft", "-f", "-", stdin=masquerade_ruleset(self.cluster_pod_cidr)
            )
            self._masquerading = True
        desired = desired_routes(self.nodes.items(), self.node.name, self.subnet)
        lines = route_commands(desired, await self.actual_routes())
        if lines:
            log.debug("%s: %s", self.node.name, "; ".join(lines))
            await ip("-n", self.node.netns, "-batch", "-", stdin="\n".join(lines))

    async def run(self) -> None:
        """Run until cancelled."""
        self.queue.add(KEY)
        await run_when_synced(self.queue, self.reconcile, f"kindnet {self.node.name}", self.nodes)
