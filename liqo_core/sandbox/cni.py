"""The sandbox CNI: a pod's network namespace, wired point-to-point into its node's.

As kindnet's ``ptp`` plugin does it:

* the pod's namespace ``<prefix>-<pod uid>`` holds ``eth0`` with the pod IP as a /32, a
  link route to the node's gateway address (first address of the node's podCIDR) and a
  default route via it;
* the other end of the veth, ``veth<8 hex>`` in the node's namespace, carries the gateway
  address (/32, once per pod, as ptp does) and the route to the pod IP.

So all traffic of a pod goes through its node's IP stack: routes to other nodes' podCIDRs
(:mod:`kindnet`), masquerade, and Services (:mod:`kubeproxy`) apply to it. ``hostNetwork``
pods run in the node's namespace itself. The MTU is the node's. Deleting the pod's
namespace deletes the veth pair and the node's route to it.

As a CNI result does, the network also tells the kubelet the cluster DNS server and
domain, which it writes into the pods' ``/etc/resolv.conf`` (:func:`podenv.resolv_conf`).
"""

from __future__ import annotations

import hashlib

from liqo_core.sandbox.ipam import gateway_ip
from liqo_core.sandbox.netns import NETNS_DIR, NetnsError, ip, pod_netns_name
from liqo_core.sandbox.nodes import NodeSpec


def node_link_name(pod_uid: str) -> str:
    """The node's end of the pod's veth."""
    return "veth" + hashlib.sha1(pod_uid.encode()).hexdigest()[:8]


class PodNetwork:
    """Pod network namespaces of one sandbox, attached to their node's namespace."""

    def __init__(
        self,
        prefix: str,
        mtu: int,
        cluster_dns: str | None = None,
        cluster_domain: str = "cluster.local",
    ) -> None:
        self.prefix = prefix
        self.mtu = mtu
        self.cluster_dns = cluster_dns
        self.cluster_domain = cluster_domain

    async def add_pod(self, pod_uid: str, pod_ip: str, node: NodeSpec) -> str:
        """Create (or recreate) the pod's namespace wired to ``node``; returns its name."""
        if not node.netns:
            raise NetnsError(f"node {node.name} has no network namespace")
        name = pod_netns_name(self.prefix, pod_uid)
        if (NETNS_DIR / name).exists():
            await ip("netns", "delete", name, check=False)
        link = node_link_name(pod_uid)
        gateway = gateway_ip(node.pod_cidr)
        mtu = str(self.mtu)
        await ip("netns", "add", name)
        try:
            await ip("-n", node.netns, "link", "del", link, check=False)
            await ip("-n", node.netns, "link", "add", link, "mtu", mtu, "type", "veth",
                     "peer", "name", "eth0", "mtu", mtu, "netns", name)  # fmt: skip
            pod_side = [
                "link set lo up",
                f"addr add {pod_ip}/32 dev eth0",
                "link set eth0 up",
                f"route add {gateway} dev eth0 scope link",
                f"route add default via {gateway} dev eth0 src {pod_ip}",
            ]
            await ip("-n", name, "-batch", "-", stdin="\n".join(pod_side))
            node_side = [
                f"addr add {gateway}/32 dev {link}",
                f"link set {link} up",
                f"route replace {pod_ip}/32 dev {link} scope link",
            ]
            await ip("-n", node.netns, "-batch", "-", stdin="\n".join(node_side))
        except NetnsError:
            await ip("netns", "delete", name, check=False)
            raise
        return name

    async def remove_pod(self, pod_uid: str) -> None:
        """Delete the pod's namespace (and so its veth pair); no-op if absent."""
        name = pod_netns_name(self.prefix, pod_uid)
        if (NETNS_DIR / name).exists():
            await ip("netns", "delete", name, check=False)
