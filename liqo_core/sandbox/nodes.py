"""Physical nodes of an emulated cluster: Node objects and their kubelet heartbeat (Lease)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from liqo_core.kube import Kube, KubeError
from liqo_core.sandbox.apiserver.version import KUBERNETES_VERSION
from liqo_core.sandbox.timeutil import now, now_micro

JSON = dict[str, Any]
log = logging.getLogger(__name__)

KUBELET_VERSION = KUBERNETES_VERSION
"""The kubelet runs the control plane's version, as in a freshly created cluster."""
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


@dataclass(frozen=True)
class NodeSpec:
    """What the sandbox knows about one physical node it creates."""

    name: str
    pod_cidr: str
    internal_ip: str
    control_plane: bool = False
    netns: str = ""
    """The node's network namespace (``/run/netns/<netns>``); empty without pod networks."""
    capacity: dict[str, str] = field(
        default_factory=lambda: {
            "cpu": "4",
            "memory": "8Gi",
            "pods": "110",
            "ephemeral-storage": "100Gi",
        }
    )


def node_object(spec: NodeSpec) -> JSON:
    """The Node as a kubelet registers it (metadata and spec)."""
    labels = {
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
    }
    node_spec: JSON = {"podCIDR": spec.pod_cidr, "podCIDRs": [spec.pod_cidr]}
    if spec.control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        node_spec["taints"] = [dict(CONTROL_PLANE_TAINT)]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": spec.name, "labels": labels},
        "spec": node_spec,
    }


def node_status(spec: NodeSpec) -> JSON:
    """The Node status a healthy kubelet reports."""
    stamp = now()

    def condition(kind: str, status: str, reason: str, message: str) -> JSON:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
        }

    return {
        "capacity": dict(spec.capacity),
        "allocatable": dict(spec.capacity),
        "addresses": [
            {"type": "InternalIP", "address": spec.internal_ip},
            {"type": "Hostname", "address": spec.name},
        ],
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "sufficient"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "sufficient PID"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "architecture": "amd64",
            "operatingSystem": "linux",
            "osImage": "liqo sandbox",
            "kernelVersion": "",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "containerRuntimeVersion": "sandbox://1.0",
            "machineID": spec.name,
            "systemUUID": spec.name,
            "bootID": spec.name,
        },
    }


def keep_transition_times(fresh: list[JSON], previous: list[JSON]) -> list[JSON]:
    """Fresh conditions, keeping each one's lastTransitionTime while its status holds."""
    before = {c.get("type"): c for c in previous}
    result = []
    for condition in fresh:
        old = before.get(condition["type"])
        kept = dict(condition)
        if old and old.get("status") == condition["status"] and old.get("lastTransitionTime"):
            kept["lastTransitionTime"] = old["lastTransitionTime"]
        result.append(kept)
    return result


def lease_object(node: JSON) -> JSON:
    """The node's heartbeat Lease, owned by the Node as the kubelet does it."""
    meta = node["metadata"]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": meta["name"],
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": meta["name"], "uid": meta["uid"]}
            ],
        },
        "spec": {
            "holderIdentity": meta["name"],
            "leaseDurationSeconds": LEASE_DURATION,
            "renewTime": now_micro(),
        },
    }


class NodeHeartbeat:
    """Registers the nodes, then renews their Leases every 10 s and their status every 60 s."""

    def __init__(self, kube: Kube, specs: list[NodeSpec], lease_period: float = 10.0) -> None:
        self.kube = kube
        self.specs = specs
        self.lease_period = lease_period
        self.ready = asyncio.Event()

    async def register(self) -> None:
        """Create (or adopt) every node and post its status and Lease."""
        await self._ensure_namespace()
        for spec in self.specs:
            path = f"/api/v1/nodes/{spec.name}"
            node = await self.kube.get(path)
            if node is None:
                node = await self.kube.request("POST", "/api/v1/nodes", node_object(spec))
            await self._post_status(spec, node)
            await self._renew(node)
        self.ready.set()

    async def _ensure_namespace(self) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LEASE_NAMESPACE}}
        try:
            await self.kube.request("POST", "/api/v1/namespaces", body)
        except KubeError as err:
            if err.status != 409:
                raise

    async def _renew(self, node: JSON) -> None:
        name = node["metadata"]["name"]
        path = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases/{name}"
        patch = {"spec": {"holderIdentity": name, "renewTime": now_micro()}}
        try:
            await self.kube.merge_patch(path, patch)
        except KubeError as err:
            if err.status != 404:
                raise
            collection = path.rsplit("/", 1)[0]
            await self.kube.request("POST", collection, lease_object(node))

    async def run(self) -> None:
        """Register, then heartbeat until cancelled (re-registering deleted nodes)."""
        await self.register()
        ticks = 0
        while True:
            await asyncio.sleep(self.lease_period)
            ticks += 1
            for spec in self.specs:
                try:
                    node = await self.kube.get(f"/api/v1/nodes/{spec.name}")
                    if node is None:
                        node = await self.kube.request("POST", "/api/v1/nodes", node_object(spec))
                        ticks = 0
                    if ticks % 6 == 0:
                        await self._post_status(spec, node)
                    await self._renew(node)
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    log.warning("heartbeat of %s failed: %r", spec.name, err)

    async def _post_status(self, spec: NodeSpec, current: JSON | None = None) -> None:
        status = node_status(spec)
        if current is not None:
            status["conditions"] = keep_transition_times(
                status["conditions"], (current.get("status") or {}).get("conditions") or []
            )
        await self.kube.merge_patch(f"/api/v1/nodes/{spec.name}/status", {"status": status})
