"""Everything that runs against one sandbox cluster, as plain API clients.

One set of shared :class:`~liqo_core.kube.Informers` (pods, nodes, deployments,
replicasets, daemonsets, statefulsets: one watch per collection) feeds the workload
controllers, the scheduler, and, per physical node, the hollow kubelet and the process
runner.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from liqo_core.kube import Informers, Kube, KubeError, KubeTarget
from liqo_core.sandbox import apiproxy
from liqo_core.sandbox.cni import PodNetwork
from liqo_core.sandbox.daemonsets import DaemonSetController
from liqo_core.sandbox.deployments import DeploymentController
from liqo_core.sandbox.hollow import HollowKubelet
from liqo_core.sandbox.ipam import PodIPAllocator
from liqo_core.sandbox.networking import ClusterNetworking
from liqo_core.sandbox.nodes import NodeHeartbeat
from liqo_core.sandbox.replicasets import ReplicaSetController
from liqo_core.sandbox.runner import ApiEndpoint, ProcessRunner
from liqo_core.sandbox.scheduler import Scheduler
from liqo_core.sandbox.state import ClusterInfo
from liqo_core.sandbox.statefulsets import StatefulSetController
from liqo_core.sandbox.topology import NetworkInfo

JSON = dict[str, Any]
log = logging.getLogger(__name__)

CLUSTER_INFO_NAMESPACE = "kube-system"
CLUSTER_INFO_NAME = "sandbox-cluster-info"


def api_endpoint(kubeconfig: str) -> ApiEndpoint:
    """Host, port and CA of the kubeconfig's current cluster."""
    config = yaml.safe_load(Path(kubeconfig).read_text())
    context_name = config.get("current-context")
    context = next(c for c in config["contexts"] if c["name"] == context_name)["context"]
    cluster = next(c for c in config["clusters"] if c["name"] == context["cluster"])["cluster"]
    url = urlparse(cluster["server"])
    if "certificate-authority-data" in cluster:
        ca = base64.b64decode(cluster["certificate-authority-data"])
    else:
        ca = Path(cluster["certificate-authority"]).read_bytes()
    return ApiEndpoint(host=url.hostname or "127.0.0.1", port=url.port or 443, ca_pem=ca)


def cluster_info_configmap(info: ClusterInfo) -> JSON:
    """``kube-system/sandbox-cluster-info``: where users and tools read the cluster's ranges."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CLUSTER_INFO_NAME, "namespace": CLUSTER_INFO_NAMESPACE},
        "data": {
            "clusterName": info.name,
            "clusterID": info.cluster_id,
            "podCIDR": info.pod_cidr,
            "serviceCIDR": info.service_cidr,
        },
    }


class ClusterAgent:
    """Nodes, controllers, scheduler and kubelets of one emulated cluster."""

    def __init__(
        self,
        info: ClusterInfo,
        workdir: Path,
        netns_prefix: str | None = None,
        peers: Sequence[ClusterInfo] = (),
        network: NetworkInfo | None = None,
    ) -> None:
        self.info = info
        self.peers = list(peers)
        self.workdir = workdir
        self.netns_prefix = netns_prefix or ""
        self.network_info = network
        self.network: PodNetwork | None = None
        self.networking: ClusterNetworking | None = None
        self.kube: Kube | None = None
        #: The shared informers (one per collection) every component reads.
        self.informers: Informers | None = None
        self.kubelets: list[HollowKubelet] = []
        self.runners: list[ProcessRunner] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._api_socket: asyncio.Server | None = None

    async def start(self) -> None:
        """Register nodes, publish the cluster info and start every component."""
        kube = self.kube = await Kube.from_target(
            KubeTarget(kubeconfig=Path(self.info.kubeconfig)), request_timeout=30.0
        )
        heartbeat = NodeHeartbeat(kube, self.info.nodes)
        await heartbeat.register()
        await self._publish_info(kube)
        informers = self.informers = Informers(kube)
        pods, nodes = informers.get("/api/v1/pods"), informers.get("/api/v1/nodes")
        replicasets = informers.get("/apis/apps/v1/replicasets")
        components: list[Any] = [
            heartbeat,
            Scheduler(kube, pods, nodes),
            ReplicaSetController(kube, replicasets, pods),
            DeploymentController(kube, informers.get("/apis/apps/v1/deployments"), replicasets),
            DaemonSetController(kube, informers.get("/apis/apps/v1/daemonsets"), nodes, pods),
            StatefulSetController(kube, informers.get("/apis/apps/v1/statefulsets"), pods),
        ]
        self.networking = ClusterNetworking(
            kube,
            self.info,
            informers,
            network=self.network_info,
            netns_prefix=self.netns_prefix,
            peers=self.peers,
        )
        self.network = self.networking.pods
        components += self.networking.components()
        endpoint = api_endpoint(self.info.kubeconfig)
        if self.network is not None:
            path = apiproxy.socket_path(self.network.prefix, self.info.name)
            self._api_socket = await apiproxy.serve_unix(path, endpoint.host, endpoint.port)
            forwards = [(endpoint.port, path)] + [
                (
                    urlparse(peer.server).port or 443,
                    apiproxy.socket_path(self.network.prefix, peer.name),
                )
                for peer in self.peers
                if peer.server
            ]
            endpoint = dataclasses.replace(endpoint, forwards=tuple(forwards))
        for node in self.info.nodes:
            ips = PodIPAllocator(node.pod_cidr)
            kubelet = HollowKubelet(
                kube, node, pods, self.network, ips=ips, network_all=self.networking.hollow_pods
            )
            runner = ProcessRunner(
                kube,
                node,
                pods,
                workdir=self.workdir,
                ips=ips,
                endpoint=endpoint,
                network=self.network,
            )
            self.kubelets.append(kubelet)
            self.runners.append(runner)
            components += [kubelet, runner]
        for component in components:
            self._spawn(component.run(), type(component).__name__)
        informers.start()
        await asyncio.wait_for(informers.wait_synced(), 60)
        await self.networking.start()

    def _spawn(self, coro: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=f"{self.info.name} {name}")
        task.add_done_callback(self._report_crash)
        self._tasks.append(task)

    @staticmethod
    def _report_crash(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped: %r", task.get_name(), task.exception())

    async def _publish_info(self, kube: Kube) -> None:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}
        with contextlib.suppress(KubeError):
            await kube.request("POST", "/api/v1/namespaces", namespace)
        body = cluster_info_configmap(self.info)
        path = f"/api/v1/namespaces/{CLUSTER_INFO_NAMESPACE}/configmaps"
        try:
            await kube.request("POST", path, body)
        except KubeError as err:
            if err.status != 409:
                raise
            await kube.merge_patch(f"{path}/{CLUSTER_INFO_NAME}", {"data": body["data"]})

    async def stop(self) -> None:
        """Stop the components and the pods' processes; remove the netns they created."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.informers is not None:
            await self.informers.stop()
        if self.networking is not None:
            await self.networking.stop()
        await asyncio.gather(*(runner.close() for runner in self.runners), return_exceptions=True)
        for kubelet in self.kubelets:
            await kubelet.close()
        if self._api_socket is not None:
            self._api_socket.close()
            await self._api_socket.wait_closed()
            if self.network is not None:
                path = apiproxy.socket_path(self.network.prefix, self.info.name)
                await asyncio.to_thread(Path(path).unlink, True)
        if self.kube is not None:
            await self.kube.close()
