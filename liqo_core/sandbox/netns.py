"""Real network namespaces for sandbox pods, built with iproute2's ``ip`` command.

Names (``<prefix>`` is ``lsb-<sandbox id>``, the id being 6 hex digits derived from the
sandbox directory):

* ``<prefix>-<cluster>``: the cluster's pod network. It holds a bridge ``br0`` carrying
  the gateway address (first usable IP) of every physical node's podCIDR, and forwards
  between them, so pods on different nodes of one cluster reach each other.
* ``<prefix>-<pod uid>``: one pod. Its ``eth0`` (a veth whose peer is enslaved to ``br0``)
  has the pod IP with the node podCIDR's prefix length, and a default route via the node
  gateway.

Deleting a pod's namespace removes its veth pair; ``down`` deletes every namespace whose
name starts with the prefix.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
from pathlib import Path

from liqo_core.sandbox.ipam import gateway_ip

NETNS_DIR = Path("/var/run/netns")


class NetnsError(RuntimeError):
    """An ``ip`` command failed."""


def sandbox_prefix(sandbox_dir: str | os.PathLike[str]) -> str:
    """``lsb-<6 hex>``: the netns name prefix of the sandbox living in ``sandbox_dir``."""
    digest = hashlib.sha1(str(Path(sandbox_dir).resolve()).encode()).hexdigest()[:6]
    return f"lsb-{digest}"


def cluster_netns_name(prefix: str, cluster: str) -> str:
    """The cluster pod-network namespace."""
    return f"{prefix}-{cluster}"


def pod_netns_name(prefix: str, pod_uid: str) -> str:
    """The namespace of the pod with UID ``pod_uid``."""
    return f"{prefix}-{pod_uid}"


async def ip(*args: str, check: bool = True) -> str:
    """Run ``ip <args>``; raise :class:`NetnsError` on failure when ``check``."""
    try:
        process = await asyncio.create_subprocess_exec(
            "ip", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except OSError as exc:
        raise NetnsError(f"cannot run ip (install iproute2): {exc}") from exc
    out, err = await process.communicate()
    if check and process.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {err.decode().strip()}")
    return out.decode()


def list_netns(prefix: str) -> list[str]:
    """Existing namespaces whose name starts with ``prefix``."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix + "-"))


async def delete_all(prefix: str) -> list[str]:
    """Delete every namespace of the sandbox; returns their names."""
    names = list_netns(prefix)
    for name in names:
        await ip("netns", "delete", name, check=False)
    return names


class PodNetwork:
    """The pod network of one cluster."""

    def __init__(self, prefix: str, cluster: str) -> None:
        self.prefix = prefix
        self.cluster = cluster
        self.netns = cluster_netns_name(prefix, cluster)
        self._lock = asyncio.Lock()
        self._gateways: set[str] = set()

    async def _ensure_cluster(self) -> None:
        if (NETNS_DIR / self.netns).exists():
            return
        await ip("netns", "add", self.netns)
        await ip("-n", self.netns, "link", "set", "lo", "up")
        await ip("-n", self.netns, "link", "add", "br0", "type", "bridge")
        await ip("-n", self.netns, "link", "set", "br0", "up")
        await _netns_sysctl(self.netns, "net/ipv4/ip_forward", "1")

    async def ensure_node(self, pod_cidr: str) -> None:
        """Make the node's gateway address exist on the cluster bridge."""
        async with self._lock:
            await self._ensure_cluster()
            network = ipaddress.ip_network(pod_cidr)
            address = f"{gateway_ip(pod_cidr)}/{network.prefixlen}"
            if address in self._gateways:
                return
            shown = await ip("-n", self.netns, "-o", "addr", "show", "dev", "br0")
            if f" {address} " not in shown:
                await ip("-n", self.netns, "addr", "add", address, "dev", "br0")
            self._gateways.add(address)

    async def add_pod(self, pod_uid: str, pod_ip: str, pod_cidr: str) -> str:
        """Create (or recreate) the pod's namespace wired to the bridge; returns its name."""
        await self.ensure_node(pod_cidr)
        name = pod_netns_name(self.prefix, pod_uid)
        if (NETNS_DIR / name).exists():
            await ip("netns", "delete", name, check=False)
        host_if = "lsv" + hashlib.sha1(pod_uid.encode()).hexdigest()[:10]
        await ip("netns", "add", name)
        try:
            await ip(
                "link",
                "add",
                host_if,
                "netns",
                self.netns,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                name,
            )
            prefix_len = ipaddress.ip_network(pod_cidr).prefixlen
            await ip("-n", name, "link", "set", "lo", "up")
            await ip("-n", name, "addr", "add", f"{pod_ip}/{prefix_len}", "dev", "eth0")
            await ip("-n", name, "link", "set", "eth0", "up")
            await ip("-n", name, "route", "add", "default", "via", gateway_ip(pod_cidr))
            await ip("-n", self.netns, "link", "set", host_if, "master", "br0", "up")
        except NetnsError:
            await ip("netns", "delete", name, check=False)
            raise
        return name

    async def remove_pod(self, pod_uid: str) -> None:
        """Delete the pod's namespace (and so its veth pair); no-op if absent."""
        name = pod_netns_name(self.prefix, pod_uid)
        if (NETNS_DIR / name).exists():
            await ip("netns", "delete", name, check=False)


async def _netns_sysctl(netns: str, key: str, value: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        netns,
        "sh",
        "-c",
        f"echo {value} > /proc/sys/{key}",
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise NetnsError(f"sysctl {key} in {netns}: {err.decode().strip()}")
