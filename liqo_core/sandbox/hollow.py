"""Hollow kubelet: reports workload pods bound to its node Running, as kubemark does.

Each pod gets an IP from the node's podCIDR (released when the pod is gone) and, when
annotated ``sandbox.liqo.io/netns: "true"`` (or with ``--network-hollow-pods``), a real
network namespace with that IP, wired into its node (see :mod:`cni`). Graceful deletion
is honoured the kubelet way: containers are reported terminated, then the pod is deleted
with ``gracePeriodSeconds: 0``. Pods of other nodes and pods the process runner owns (see
:mod:`scope`) are left alone.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from liqo_core.kube import Informer, Kube, object_key
from liqo_core.sandbox import events, podstatus
from liqo_core.sandbox.cni import PodNetwork
from liqo_core.sandbox.controllerruntime import (
    patch_status,
    run_when_synced,
    status_path,
    work_queue,
)
from liqo_core.sandbox.ipam import PodIPAllocator
from liqo_core.sandbox.netns import NetnsError
from liqo_core.sandbox.nodes import NodeSpec
from liqo_core.sandbox.scope import runs_as_process, wants_netns
from liqo_core.sandbox.timeutil import now

JSON = dict[str, Any]
log = logging.getLogger(__name__)


def container_id(pod_uid: str, name: str, restart: int = 0) -> str:
    """A stable fake container ID."""
    return "sandbox://" + hashlib.sha256(f"{pod_uid}/{name}/{restart}".encode()).hexdigest()[:32]


def _statuses(pod: JSON, field: str, state: JSON, *, ready: bool) -> list[JSON]:
    uid = pod["metadata"]["uid"]
    return [
        podstatus.container_status(
            c,
            state=state,
            ready=ready,
            restart_count=0,
            container_id=container_id(uid, c["name"]),
        )
        for c in pod.get("spec", {}).get(field) or []
    ]


class HollowKubelet:
    """Plays kubelet for the hollow pods of one physical node."""

    def __init__(
        self,
        kube: Kube,
        node: NodeSpec,
        pods: Informer,
        network: PodNetwork | None = None,
        *,
        ips: PodIPAllocator | None = None,
        network_all: bool = False,
    ) -> None:
        self.kube = kube
        self.node = node
        self.pods = pods
        self.network = network
        self.network_all = network_all
        self.ips = ips if ips is not None else PodIPAllocator(node.pod_cidr)
        self.queue = work_queue()
        self._uids: dict[str, str] = {}
        self._netns: set[str] = set()
        pods.add_handler(self._on_pod)

    def owns(self, pod: JSON) -> bool:
        """Bound to this node and not a process-runner pod."""
        return pod.get("spec", {}).get("nodeName") == self.node.name and not runs_as_process(pod)

    def _on_pod(self, kind: str, pod: JSON) -> None:
        key = object_key(pod)
        if kind == "DELETED" or not self.owns(pod):
            if key in self._uids:
                self.queue.add(key)
            return
        self.queue.add(key)

    async def reconcile(self, key: str) -> None:
        """Bring one pod's reported state in line with its spec."""
        pod = self.pods.cache.get(key)
        known_uid = self._uids.get(key)
        if known_uid and (pod is None or pod["metadata"]["uid"] != known_uid or not self.owns(pod)):
            await self._forget(key, known_uid)
        if pod is None or not self.owns(pod):
            return
        uid = pod["metadata"]["uid"]
        self._uids[key] = uid
        if pod["metadata"].get("deletionTimestamp"):
            await self._terminate(pod)
            return
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return
        address = self._address(pod)
        wanted = wants_netns(pod, default=self.network_all)
        if self.network is not None and wanted and uid not in self._netns:
            try:
                await self.network.add_pod(uid, address, self.node)
            except NetnsError as err:
                await events.pod_event(
                    self.kube,
                    pod,
                    kind="Warning",
                    reason="FailedCreatePodSandBox",
                    message=f"network namespace: {err}",
                    component="kubelet",
                    host=self.node.name,
                )
                raise
            self._netns.add(uid)
        status = self.running_status(pod, address)
        current = pod.get("status") or {}
        if current.get("phase") == "Running" and current.get("podIP") == address:
            return
        await self._patch_status(pod, status)
        if current.get("phase") != "Running":
            names = ", ".join(c["name"] for c in pod.get("spec", {}).get("containers") or [])
            await events.pod_event(
                self.kube,
                pod,
                kind="Normal",
                reason="Started",
                message=f"Started container(s) {names} (hollow)",
                component="kubelet",
                host=self.node.name,
            )

    def _address(self, pod: JSON) -> str:
        if pod.get("spec", {}).get("hostNetwork"):
            return self.node.internal_ip
        uid = pod["metadata"]["uid"]
        reported = pod.get("status", {}).get("podIP")
        if reported and self.ips.get(uid) is None and self.ips.reserve(uid, reported):
            return str(reported)
        return self.ips.allocate(uid)

    def running_status(self, pod: JSON, address: str) -> JSON:
        """The status of a pod whose containers all run and are ready."""
        current = pod.get("status") or {}
        started = current.get("startTime") or now()
        statuses = _statuses(pod, "containers", podstatus.running_state(started), ready=True)
        init_statuses = _statuses(
            pod, "initContainers", podstatus.terminated_state(0, started), ready=False
        )
        status: JSON = {
            "phase": "Running",
            "conditions": podstatus.conditions(True, True, True, current.get("conditions") or []),
            "startTime": started,
            "containerStatuses": statuses,
            "qosClass": podstatus.qos_class(pod),
            **podstatus.host_fields(address, self.node.internal_ip),
        }
        if init_statuses:
            status["initContainerStatuses"] = init_statuses
        return status

    async def _terminate(self, pod: JSON) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        current = pod.get("status") or {}
        started = current.get("startTime") or now()
        statuses = _statuses(pod, "containers", podstatus.terminated_state(0, started), ready=False)
        status = {
            "conditions": podstatus.conditions(True, True, False, current.get("conditions") or []),
            "containerStatuses": statuses,
        }
        await self._patch_status(pod, status)
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        await self.kube.delete(path, {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}})
        await self._forget(object_key(pod), uid)

    async def _forget(self, key: str, uid: str) -> None:
        self._uids.pop(key, None)
        self.ips.release(uid)
        if uid in self._netns and self.network is not None:
            await self.network.remove_pod(uid)
        self._netns.discard(uid)

    async def _patch_status(self, pod: JSON, status: JSON) -> None:
        await patch_status(self.kube, status_path("api/v1/pods", pod), status)

    async def run(self) -> None:
        """Run until cancelled; pods already Running keep their reported IPs."""

        def keep_reported_ips() -> None:
            for pod in self.pods.items():
                if self.owns(pod) and pod.get("status", {}).get("podIP"):
                    self.ips.reserve(pod["metadata"]["uid"], pod["status"]["podIP"])

        await run_when_synced(
            self.queue,
            self.reconcile,
            f"kubelet {self.node.name}",
            self.pods,
            before=keep_reported_ips,
        )

    async def close(self) -> None:
        """Remove the network namespaces this kubelet created."""
        if self.network is not None:
            for uid in list(self._netns):
                await self.network.remove_pod(uid)
        self._netns.clear()
