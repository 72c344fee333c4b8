"""The cluster's cloud provider: LoadBalancer Services get an address on the sandbox network.

As kind's cloud provider does, each ``type: LoadBalancer`` Service (without a
``loadBalancerClass``) gets an address of the sandbox network, from the cluster's range
(``<a>.<b>.<cluster>.200`` to ``.254``, :func:`topology.load_balancer_addresses`),
written to ``status.loadBalancer.ingress`` (``ipMode: VIP``). The address is kept across
restarts (read back from the status) and released when the Service goes or changes type.

The address is then announced the way MetalLB's layer-2 mode does it: one node, chosen by
the Service's key among the physical nodes, holds it on ``eth0`` (a /32), so the host and
every other node reach it over the bridge; that node's kube-proxy forwards it to the
endpoints (:mod:`kubeproxy`). One loop rebuilds the whole assignment (addresses in
Services' statuses, addresses on nodes) from the informer and applies the difference.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from liqo_core.kube import Informer, Kube, KubeError
from liqo_core.sandbox.controllerruntime import run_when_synced, status_path, work_queue
from liqo_core.sandbox.netns import ip
from liqo_core.sandbox.nodes import NodeSpec

JSON = dict[str, Any]
log = logging.getLogger(__name__)

KEY = "load-balancers"


def wants_address(service: JSON) -> bool:
    """A LoadBalancer Service this provider serves."""
    spec = service.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def _key(service: JSON) -> str:
    return f"{service['metadata']['namespace']}/{service['metadata']['name']}"


def ingress_ips(service: JSON) -> list[str]:
    """The addresses in the Service's status."""
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(i["ip"]) for i in ingress if i.get("ip")]


def assign(services: list[JSON], pool: Sequence[str]) -> dict[str, str]:
    """Service key → address: what a Service holds stays its own, others get the next
    free address of ``pool`` (in key order)."""
    allowed = set(pool)
    taken: dict[str, str] = {}
    wanting = sorted((s for s in services if wants_address(s)), key=_key)
    for service in wanting:
        for address in ingress_ips(service):
            if address in allowed and address not in taken.values():
                taken[_key(service)] = address
                break
    free = [a for a in pool if a not in taken.values()]
    for service in wanting:
        if _key(service) not in taken and free:
            taken[_key(service)] = free.pop(0)
    return taken


def holder(key: str, nodes: Sequence[NodeSpec]) -> NodeSpec:
    """The node that announces the address of Service ``key``."""
    ordered = sorted(nodes, key=lambda n: n.name)
    return ordered[int(hashlib.sha1(key.encode()).hexdigest(), 16) % len(ordered)]


class LoadBalancerController:
    """Allocates and announces LoadBalancer addresses for one cluster."""

    def __init__(
        self, kube: Kube, services: Informer, nodes: Sequence[NodeSpec], pool: Sequence[str]
    ) -> None:
        self.kube = kube
        self.services = services
        self.nodes = [n for n in nodes if n.netns]
        self.pool = list(pool)
        self.queue = work_queue()
        services.add_handler(lambda kind, obj: self.queue.add(KEY))

    async def _node_addresses(self, node: NodeSpec) -> set[str]:
        shown = json.loads(await ip("-n", node.netns, "-j", "addr", "show", "dev", "eth0") or "[]")
        pool = set(self.pool)
        return {
            str(info["local"])
            for link in shown
            for info in link.get("addr_info") or []
            if info.get("prefixlen") == 32 and info.get("local") in pool
        }

    async def reconcile(self, key: str) -> None:
        """Converge statuses, then the addresses on the nodes."""
        services = self.services.items()
        assigned = assign(services, self.pool)
        for service in services:
            wanted = assigned.get(_key(service))
            current = ingress_ips(service)
            if wanted is not None and current != [wanted]:
                status = {"loadBalancer": {"ingress": [{"ip": wanted, "ipMode": "VIP"}]}}
            elif wanted is None and set(current) & set(self.pool):
                status = {"loadBalancer": {}}
            else:
                continue
            try:
                await self.kube.merge_patch(
                    status_path("api/v1/services", service), {"status": status}
                )
            except KubeError as err:
                if err.status != 404:
                    raise
        if not self.nodes:
            return
        desired: dict[str, set[str]] = {n.name: set() for n in self.nodes}
        for service_key, address in assigned.items():
            desired[holder(service_key, self.nodes).name].add(address)
        for node in self.nodes:
            actual = await self._node_addresses(node)
            lines = [f"addr add {a}/32 dev eth0" for a in sorted(desired[node.name] - actual)]
            lines += [f"addr del {a}/32 dev eth0" for a in sorted(actual - desired[node.name])]
            if lines:
                await ip("-n", node.netns, "-batch", "-", stdin="\n".join(lines))

    async def run(self) -> None:
        """Run until cancelled."""
        self.queue.add(KEY)
        await run_when_synced(self.queue, self.reconcile, "cloud-provider", self.services)
