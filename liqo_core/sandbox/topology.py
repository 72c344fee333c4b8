"""The sandbox's machines and wires: one shared network, one network namespace per node.

What Docker gives kind, built from network namespaces (root only):

* the **sandbox network**, a bridge ``<if>`` in the host's namespace carrying the host's
  own address (``<a>.<b>.0.1/16``), as kind's ``kind`` Docker network does. The /16 is the
  first of ``172.18.0.0/16`` ... ``172.31.0.0/16`` (starting from one derived from the
  sandbox id) that no host interface or route uses yet;
* one **node** per sandbox node: namespace ``<prefix>-<node name>``, whose ``eth0`` (a veth
  whose peer ``<if><6 hex>`` is enslaved to the bridge) carries the node's InternalIP
  ``<a>.<b>.<cluster>.<n+2>/16``, with a default route via the host and forwarding on.
  Nodes of every cluster and the host reach each other over the bridge, as kind nodes do.

``<prefix>`` is ``lsb-<6 hex digits>`` derived from the sandbox directory, ``<if>`` the
same without the dash (``lsb1a2b3c``, short enough for interface names). Everything the
sandbox creates in the host's namespace is a link whose name starts with ``<if>`` or a
namespace whose name starts with ``<prefix>-``: :func:`sweep` removes both, also after a
crash. Pods are wired into their node by :mod:`cni`; routes between nodes and masquerade
are :mod:`kindnet`'s, Services :mod:`kubeproxy`'s.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from liqo_core.sandbox.netns import NETNS_DIR, NetnsError, ip, list_netns

DEFAULT_MTU = 1500
SUBNETS = [f"172.{second}.0.0/16" for second in range(18, 32)]
LOAD_BALANCER_FIRST = 200
"""Load-balancer addresses of cluster ``i`` are ``<a>.<b>.<i>.200`` to ``.254``."""


@dataclass
class NetworkInfo:
    """The shared sandbox network, as recorded in ``sandbox.json``."""

    bridge: str
    subnet: str
    host_address: str
    mtu: int = DEFAULT_MTU
    hollow_pods: bool = False
    """Whether hollow pods get a network namespace without asking (``--network-hollow-pods``)."""

    def to_json(self) -> dict[str, Any]:
        """camelCase JSON."""
        return {
            "bridge": self.bridge,
            "subnet": self.subnet,
            "hostAddress": self.host_address,
            "mtu": self.mtu,
            "hollowPods": self.hollow_pods,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NetworkInfo:
        """Inverse of :meth:`to_json`."""
        return cls(
            bridge=data["bridge"],
            subnet=data["subnet"],
            host_address=data["hostAddress"],
            mtu=int(data.get("mtu") or DEFAULT_MTU),
            hollow_pods=bool(data.get("hollowPods")),
        )

    @property
    def prefix_length(self) -> int:
        """The subnet's prefix length (16)."""
        return ipaddress.ip_network(self.subnet).prefixlen


def interface_prefix(netns_prefix: str) -> str:
    """``lsb-1a2b3c`` → ``lsb1a2b3c``: the start of every host link the sandbox makes."""
    return netns_prefix.replace("-", "")


def node_netns_name(netns_prefix: str, node: str) -> str:
    """The node's network namespace."""
    return f"{netns_prefix}-{node}"


def host_link_name(bridge: str, node: str) -> str:
    """The host end of the node's ``eth0`` (15 characters at most)."""
    return bridge + hashlib.sha1(node.encode()).hexdigest()[: 15 - len(bridge)]


def node_address(network: NetworkInfo, cluster_index: int, node_index: int) -> str:
    """InternalIP of node ``node_index`` (0: control plane) of cluster ``cluster_index``."""
    base = ipaddress.ip_network(network.subnet).network_address
    return str(base + cluster_index * 256 + node_index + 2)


def cluster_index(network: NetworkInfo, node_address: str) -> int:
    """The cluster index a node address of the sandbox network belongs to."""
    base = ipaddress.ip_network(network.subnet).network_address
    return (int(ipaddress.ip_address(node_address)) - int(base)) // 256


def load_balancer_addresses(network: NetworkInfo, cluster_index: int) -> list[str]:
    """The addresses cluster ``cluster_index``'s cloud provider hands to LoadBalancers."""
    base = ipaddress.ip_network(network.subnet).network_address + cluster_index * 256
    return [str(base + last) for last in range(LOAD_BALANCER_FIRST, 255)]


def unavailable_reason() -> str | None:
    """Why pod networks cannot be built here (one line), or None if they can."""
    if os.geteuid() != 0:
        return (
            "not running as root: no pod networks (pods share the host's network, no "
            "Services' cluster IPs, NodePorts, LoadBalancers or cluster DNS); run as root for them"
        )
    missing = [tool for tool in ("ip", "nft", "nsenter") if shutil.which(tool) is None]
    if missing:
        return (
            f"{', '.join(missing)} not found: no pod networks (install iproute2, nftables "
            "and util-linux for them)"
        )
    return None


def _used_networks() -> list[ipaddress.IPv4Network]:
    found: list[ipaddress.IPv4Network] = []
    for args in (["-4", "-j", "addr"], ["-4", "-j", "route", "show", "table", "all"]):
        result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
        try:
            entries = json.loads(result.stdout or "[]")
        except ValueError:
            continue
        for entry in entries:
            for info in entry.get("addr_info") or []:
                found.append(ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", False))
            dst = entry.get("dst")
            if dst and dst != "default":
                try:
                    found.append(ipaddress.IPv4Network(dst, strict=False))
                except ValueError:
                    continue
    return found


def choose_subnet(netns_prefix: str) -> str:
    """A /16 of :data:`SUBNETS` that the host does not use yet, starting from the one the
    sandbox id points at (so that two sandboxes usually differ at once)."""
    used = _used_networks()
    start = int(hashlib.sha1(netns_prefix.encode()).hexdigest(), 16) % len(SUBNETS)
    for offset in range(len(SUBNETS)):
        candidate = ipaddress.IPv4Network(SUBNETS[(start + offset) % len(SUBNETS)])
        if not any(candidate.overlaps(net) for net in used if net.prefixlen > 0):
            return str(candidate)
    raise NetnsError(f"every sandbox subnet ({SUBNETS[0]} ... {SUBNETS[-1]}) is in use here")


def plan_network(
    netns_prefix: str, mtu: int = DEFAULT_MTU, hollow_pods: bool = False
) -> NetworkInfo:
    """The network a new sandbox will build."""
    subnet = choose_subnet(netns_prefix)
    host = str(ipaddress.ip_network(subnet).network_address + 1)
    return NetworkInfo(interface_prefix(netns_prefix), subnet, host, mtu, hollow_pods)


async def create_bridge(network: NetworkInfo) -> None:
    """The sandbox network: the bridge with the host's address on it."""
    bridge = network.bridge
    await ip("link", "add", bridge, "mtu", str(network.mtu), "type", "bridge")
    await ip("addr", "add", f"{network.host_address}/{network.prefix_length}", "dev", bridge)
    await ip("link", "set", bridge, "up")


async def create_node(network: NetworkInfo, netns: str, node: str, address: str) -> None:
    """Node ``node``'s namespace ``netns``, plugged into the sandbox network at ``address``."""
    link = host_link_name(network.bridge, node)
    mtu = str(network.mtu)
    await ip("netns", "add", netns)
    await ip("link", "add", link, "mtu", mtu, "type", "veth", "peer", "name", "eth0",
             "mtu", mtu, "netns", netns)  # fmt: skip
    await ip("link", "set", link, "master", network.bridge, "up")
    await ip(
        "-n",
        netns,
        "-batch",
        "-",
        stdin="\n".join(
            [
                "link set lo up",
                f"addr add {address}/{network.prefix_length} dev eth0",
                "link set eth0 up",
                f"route add default via {network.host_address} dev eth0",
            ]
        ),
    )
    await sysctl(netns, "net/ipv4/ip_forward", "1")


async def sysctl(netns: str, key: str, value: str) -> None:
    """Set ``/proc/sys/<key>`` inside ``netns``."""
    await run_in(netns, "sh", "-c", f"echo {value} > /proc/sys/{key}")


async def run_in(netns: str, *argv: str, stdin: str | None = None) -> str:
    """Run ``argv`` in ``netns``'s network (``nsenter --net``); its output, or NetnsError."""
    try:
        process = await asyncio.create_subprocess_exec(
            "nsenter",
            f"--net={NETNS_DIR / netns}",
            "--",
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise NetnsError(f"cannot run {argv[0]} in {netns}: {exc}") from exc
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    if process.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} in {netns}: {err.decode().strip()}")
    return out.decode()


def host_links(bridge: str) -> list[str]:
    """Links of the host's namespace whose name starts with ``bridge``."""
    result = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=False)
    try:
        links = json.loads(result.stdout or "[]")
    except ValueError:
        return []
    return sorted(str(link["ifname"]) for link in links if str(link["ifname"]).startswith(bridge))


def sweep(netns_prefix: str) -> list[str]:
    """Delete every namespace and host link of the sandbox (blocking); returns their names.

    Deleting a node's namespace deletes its veth pair; the bridge goes last.
    """
    removed = []
    for name in list_netns(netns_prefix):
        subprocess.run(["ip", "netns", "delete", name], check=False, capture_output=True)
        removed.append(name)
    bridge = interface_prefix(netns_prefix)
    for link in sorted(host_links(bridge), key=lambda name: name == bridge):
        subprocess.run(["ip", "link", "delete", link], check=False, capture_output=True)
        removed.append(link)
    return removed
