"""kube-proxy, one per node: Services as nftables rules in the node's namespace.

From the Service and EndpointSlice informers the proxy rebuilds, on every change, the
whole ``ip kube-proxy`` table of its node (as kube-proxy's nftables mode names it) and
loads it in one ``nft -f`` transaction when it differs from what it loaded last:

* a Service's **cluster IP** and port DNAT to one of its ready endpoints, picked at random
  (``numgen random``: no session affinity); endpoints whose ``ready`` condition is false
  (not ready, terminating) are left out. Traffic to a port without endpoints is rejected
  (TCP reset / ICMP port unreachable), as kube-proxy does;
* ``NodePort`` / ``LoadBalancer`` Services also answer on their ``nodePort`` at every
  address of the node (``fib daddr type local``), and ``LoadBalancer`` ones at each
  ``status.loadBalancer.ingress`` IP and port (the address :mod:`cloudprovider` puts on a
  node);
* connections from outside the cluster's pod CIDR (the host, other clusters, the node
  itself) and hairpin connections (a pod reaching itself through its Service) are
  masqueraded, so replies come back through the node that translated them
  (``externalTrafficPolicy: Cluster``).

Endpoints are the addresses of every IPv4 EndpointSlice labelled with the Service's name,
whoever manages it (:mod:`endpointslices`, or Liqo's reflection).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from liqo_core.kube import Informer
from liqo_core.sandbox.controllerruntime import run_when_synced, work_queue
from liqo_core.sandbox.nodes import NodeSpec
from liqo_core.sandbox.topology import run_in

JSON = dict[str, Any]
log = logging.getLogger(__name__)

TABLE = "kube-proxy"
MASQ_MARK = "0x00004000"
SERVICE_NAME = "kubernetes.io/service-name"
KEY = "services"
PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service, with everything needed to program it."""

    namespace: str
    name: str
    port_name: str
    protocol: str
    port: int
    cluster_ips: tuple[str, ...]
    node_port: int | None
    ingress_ips: tuple[str, ...]
    endpoints: tuple[tuple[str, int], ...]

    @property
    def id(self) -> str:
        """``<ns>/<name>/<proto>/<port>``, as in kube-proxy's chain names."""
        return f"{self.namespace}/{self.name}/{self.protocol}/{self.port_name or self.port}"

    def chain(self, suffix: str = "") -> str:
        """This port's chain (``svc-<hash>-<id>``)."""
        digest = hashlib.sha1(self.id.encode()).hexdigest()[:8]
        return f"svc-{digest}-{self.id}{suffix}"


def ready_endpoints(slices: Iterable[JSON], port_name: str, protocol: str) -> list[tuple[str, int]]:
    """(address, port) of the ready IPv4 endpoints serving the named Service port."""
    found: dict[str, int] = {}
    for item in slices:
        if item.get("addressType", "IPv4") != "IPv4":
            continue
        number = next(
            (
                p.get("port")
                for p in item.get("ports") or []
                if (p.get("name") or "") == port_name and p.get("protocol", "TCP") == protocol
            ),
            None,
        )
        if number is None:
            continue
        for endpoint in item.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            for address in endpoint.get("addresses") or []:
                found.setdefault(str(address), int(number))
    return sorted(found.items())


def service_ports(services: Iterable[JSON], slices: Iterable[JSON]) -> list[ServicePort]:
    """Every programmable Service port, from the informers' objects."""
    by_service: dict[tuple[str, str], list[JSON]] = {}
    for item in slices:
        meta = item.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVICE_NAME)
        if owner:
            by_service.setdefault((meta.get("namespace", ""), owner), []).append(item)
    ports: list[ServicePort] = []
    for service in services:
        meta, spec = service["metadata"], service.get("spec") or {}
        if spec.get("type") == "ExternalName":
            continue
        ips = tuple(
            ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"
        )
        if not ips:
            continue  # headless
        ingress = tuple(
            str(i["ip"])
            for i in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if i.get("ip")
        )
        own = by_service.get((meta["namespace"], meta["name"]), [])
        for port in spec.get("ports") or []:
            protocol = port.get("protocol", "TCP")
            if protocol not in PROTOCOLS:
                continue
            node_port = (
                port.get("nodePort") if spec.get("type") in ("NodePort", "LoadBalancer") else None
            )
            ports.append(
                ServicePort(
                    namespace=meta["namespace"],
                    name=meta["name"],
                    port_name=port.get("name") or "",
                    protocol=protocol,
                    port=int(port["port"]),
                    cluster_ips=ips,
                    node_port=int(node_port) if node_port else None,
                    ingress_ips=ingress if spec.get("type") == "LoadBalancer" else (),
                    endpoints=tuple(ready_endpoints(own, port.get("name") or "", protocol)),
                )
            )
    return sorted(ports, key=lambda p: p.id)


def ruleset(ports: list[ServicePort], cluster_pod_cidr: str) -> str:
    """The ``nft -f`` script replacing table ``ip kube-proxy``."""
    mark = f"meta mark set meta mark or {MASQ_MARK}"
    lines = [
        f"add table ip {TABLE}",
        f"delete table ip {TABLE}",
        f"table ip {TABLE} {{",
        "  chain nat-prerouting {",
        "    type nat hook prerouting priority -100; policy accept;",
        "    jump services",
        "  }",
        "  chain nat-output {",
        "    type nat hook output priority -100; policy accept;",
        "    jump services",
        "  }",
        "  chain nat-postrouting {",
        "    type nat hook postrouting priority 100; policy accept;",
        f"    meta mark & {MASQ_MARK} == {MASQ_MARK} masquerade",
        "  }",
        "  chain filter-forward {",
        "    type filter hook forward priority -10; policy accept;",
        "    jump no-endpoints",
        "  }",
        "  chain filter-output {",
        "    type filter hook output priority -10; policy accept;",
        "    jump no-endpoints",
        "  }",
        "  chain filter-input {",
        "    type filter hook input priority -10; policy accept;",
        "    jump no-endpoints-nodeports",
        "  }",
    ]
    services: list[str] = []
    rejects: list[str] = []
    node_rejects: list[str] = []
    chains: list[str] = []
    for port in ports:
        proto = PROTOCOLS[port.protocol]
        reject = "reject with tcp reset" if proto == "tcp" else "reject"
        targets = [f"ip daddr {ip} {proto} dport {port.port}" for ip in port.cluster_ips]
        external = [f"ip daddr {ip} {proto} dport {port.port}" for ip in port.ingress_ips]
        if port.node_port:
            external.append(f"fib daddr type local {proto} dport {port.node_port}")
        if not port.endpoints:
            rejects += [f"    {match} {reject}" for match in targets + external]
            node_rejects += [f"    {match} {reject}" for match in external]
            continue
        services += [f"    {match} goto {port.chain()}" for match in targets]
        services += [f"    {match} goto {port.chain('-ext')}" for match in external]
        picks = ", ".join(
            f"{index} : goto {port.chain(f'-ep{index}')}" for index in range(len(port.endpoints))
        )
        chains += [
            f"  chain {port.chain()} {{",
            f"    ip saddr != {cluster_pod_cidr} {mark}",
            f"    numgen random mod {len(port.endpoints)} vmap {{ {picks} }}",
            "  }",
            f"  chain {port.chain('-ext')} {{",
            f"    {mark}",
            f"    goto {port.chain()}",
            "  }",
        ]
        for index, (address, target) in enumerate(port.endpoints):
            chains += [
                f"  chain {port.chain(f'-ep{index}')} {{",
                f"    ip saddr {address} {mark}",
                f"    meta l4proto {proto} dnat to {address}:{target}",
                "  }",
            ]
    lines += ["  chain services {", *services, "  }"]
    lines += ["  chain no-endpoints {", *rejects, "  }"]
    lines += ["  chain no-endpoints-nodeports {", *node_rejects, "  }"]
    lines += [*chains, "}", ""]
    return "\n".join(lines)


class KubeProxy:
    """Programs one node's Services whenever Services or EndpointSlices change."""

    def __init__(
        self, node: NodeSpec, services: Informer, slices: Informer, cluster_pod_cidr: str
    ) -> None:
        self.node = node
        self.services = services
        self.slices = slices
        self.cluster_pod_cidr = cluster_pod_cidr
        self.queue = work_queue()
        self.applied = ""
        for informer in (services, slices):
            informer.add_handler(lambda kind, obj: self.queue.add(KEY))

    def render(self) -> str:
        """The table as the informers' caches describe it now."""
        return ruleset(
            service_ports(self.services.items(), self.slices.items()), self.cluster_pod_cidr
        )

    async def reconcile(self, key: str) -> None:
        """Load the table if it changed."""
        script = self.render()
        if script == self.applied:
            return
        await run_in(self.node.netns, "nft", "-f", "-", stdin=script)
        self.applied = script

    async def run(self) -> None:
        """Run until cancelled."""
        self.queue.add(KEY)
        await run_when_synced(
            self.queue, self.reconcile, f"kube-proxy {self.node.name}", self.services, self.slices
        )
