"""A cluster's network services, as a kind cluster has them, wired for the agent.

* always: the EndpointSlice controller (kube-controller-manager's);
* with pod networks (root, see :mod:`topology`): the CNI for its kubelets (:mod:`cni`),
  kindnet and kube-proxy on every node (:mod:`kindnet`, :mod:`kubeproxy`), the cloud
  provider's LoadBalancer addresses (:mod:`cloudprovider`), and in every node's namespace
  the cluster's and its peers' API servers at ``127.0.0.1:<port>`` for ``hostNetwork``
  pods (:func:`apiproxy.serve_in_netns`), and the cluster DNS: Service ``kube-system/
  kube-dns`` at the service CIDR's tenth address (as kubeadm puts it), served by
  Deployment ``kube-dns`` (a process-run pod, :mod:`dns`) with the RBAC it needs.

Each piece is an API client reading shared informers; :meth:`ClusterNetworking.components`
lists the loops for the agent to run.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from liqo_core.kube import Informers, Kube, KubeError
from liqo_core.sandbox import apiproxy
from liqo_core.sandbox.cloudprovider import LoadBalancerController
from liqo_core.sandbox.cni import PodNetwork
from liqo_core.sandbox.endpointslices import EndpointSliceController
from liqo_core.sandbox.kindnet import NodeRoutes
from liqo_core.sandbox.kubeproxy import KubeProxy
from liqo_core.sandbox.netns import NETNS_DIR
from liqo_core.sandbox.state import ClusterInfo
from liqo_core.sandbox.topology import NetworkInfo, cluster_index, load_balancer_addresses


class ClusterNetworking:
    """Pod network, Services' machinery and node-side API access of one cluster."""

    def __init__(
        self,
        kube: Kube,
        info: ClusterInfo,
        informers: Informers,
        *,
        network: NetworkInfo | None,
        netns_prefix: str,
        peers: Sequence[ClusterInfo] = (),
    ) -> None:
        self.kube = kube
        self.info = info
        self.network = network
        self.peers = list(peers)
        self.dns_ip = cluster_dns_ip(info.service_cidr)
        self.pods = (
            PodNetwork(netns_prefix, network.mtu, self.dns_ip, CLUSTER_DOMAIN)
            if network is not None
            else None
        )
        self.services = informers.get("/api/v1/services")
        self.slices = informers.get("/apis/discovery.k8s.io/v1/endpointslices")
        pods, nodes = informers.get("/api/v1/pods"), informers.get("/api/v1/nodes")
        self._components: list[Any] = [
            EndpointSliceController(kube, self.services, pods, self.slices)
        ]
        if network is not None:
            for node in info.nodes:
                self._components += [
                    NodeRoutes(node, nodes, info.pod_cidr, network.subnet),
                    KubeProxy(node, self.services, self.slices, info.pod_cidr),
                ]
            pool = load_balancer_addresses(
                network, cluster_index(network, info.nodes[0].internal_ip)
            )
            self._components.append(LoadBalancerController(kube, self.services, info.nodes, pool))
        self._servers: list[asyncio.Server] = []

    @property
    def hollow_pods(self) -> bool:
        """Whether hollow pods get a network without asking."""
        return self.network is not None and self.network.hollow_pods

    def components(self) -> list[Any]:
        """The loops to run (each has ``run()``)."""
        return list(self._components)

    async def start(self) -> None:
        """Install the cluster DNS; serve the API servers inside every node's namespace."""
        if self.network is None:
            return
        for manifest in dns_manifests(self.dns_ip):
            await apply(self.kube, manifest)
        ports = [
            urlparse(cluster.server).port or 443
            for cluster in [self.info, *self.peers]
            if cluster.server
        ]
        for node in self.info.nodes:
            path = str(NETNS_DIR / node.netns)
            forwards = [(port, "127.0.0.1", port) for port in ports]
            self._servers += await apiproxy.serve_in_netns(path, forwards)

    async def stop(self) -> None:
        """Close the node-side API forwarders."""
        for server in self._servers:
            server.close()
        await asyncio.gather(*(s.wait_closed() for s in self._servers), return_exceptions=True)
        self._servers.clear()


CLUSTER_DOMAIN = "cluster.local"
DNS_NAME = "kube-dns"
DNS_NAMESPACE = "kube-system"
FIELD_MANAGER = "liqo-sandbox"
_PATHS = {
    "Service": "/api/v1/namespaces/{ns}/services",
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
}


def cluster_dns_ip(service_cidr: str) -> str:
    """The kube-dns Service's address: the service CIDR's tenth (kubeadm's choice)."""
    return str(ipaddress.ip_network(service_cidr).network_address + 10)


def dns_manifests(address: str) -> list[dict[str, object]]:
    """Service first (so that its address is taken before any other Service's), then the
    service account, its RBAC and the Deployment."""
    labels = {"k8s-app": DNS_NAME}
    meta = {"namespace": DNS_NAMESPACE, "labels": labels}
    role = "system:kube-dns"
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": DNS_NAME, **meta, "labels": {**labels,
                         "kubernetes.io/name": "KubeDNS"}},
            "spec": {
                "clusterIP": address,
                "selector": labels,
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                ],
            },
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DNS_NAME, **meta}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": role},
            "rules": [
                {"apiGroups": [""], "resources": ["services"], "verbs": ["list", "watch"]},
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": role},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": DNS_NAME,
                          "namespace": DNS_NAMESPACE}],
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": DNS_NAME, **meta},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {"sandbox.liqo.io/runner": "process"},
                    },
                    "spec": {
                        "serviceAccountName": DNS_NAME,
                        "dnsPolicy": "Default",
                        "tolerations": [
                            {"key": "node-role.kubernetes.io/control-plane",
                             "effect": "NoSchedule"}
                        ],
                        "containers": [
                            {
                                "name": "dns",
                                "image": "liqo-sandbox-dns",
                                "command": ["python", "-m", "liqo_core.sandbox.dns",
                                            "--port=53", f"--domain={CLUSTER_DOMAIN}"],
                                "ports": [
                                    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 53,
                                     "protocol": "TCP"},
                                ],
                                "readinessProbe": {"tcpSocket": {"port": 53},
                                                   "periodSeconds": 1},
                            }
                        ],
                    },
                },
            },
        },
    ]  # fmt: skip


async def apply(kube: Kube, manifest: dict[str, object]) -> None:
    """Server-side apply one of :func:`dns_manifests`."""
    meta = manifest["metadata"]
    assert isinstance(meta, dict)
    collection = _PATHS[str(manifest["kind"])].format(ns=meta.get("namespace", ""))
    try:
        await kube.request(
            "PATCH",
            f"{collection}/{meta['name']}",
            dict(manifest),
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            content_type="application/apply-patch+yaml",
        )
    except KubeError as err:
        what = f"applying {manifest['kind']} {meta['name']}: {err.message}"
        raise KubeError(err.status, err.reason, what) from err
