"""ReplicaSet controller: keeps ``spec.replicas`` active pods and reports status."""

from __future__ import annotations

import logging
from typing import Any

from liqo_core.kube import Informer, Kube, object_key
from liqo_core.sandbox.controllerruntime import (
    create_pod,
    owned_by,
    owner_key,
    patch_status,
    pods_path,
    run_when_synced,
    status_path,
    status_unchanged,
    work_queue,
)
from liqo_core.sandbox.ownership import pod_active, pod_ready, selector_matches

JSON = dict[str, Any]
log = logging.getLogger(__name__)


def deletion_order(pod: JSON) -> tuple[int, int, str]:
    """Sort key: pods to delete first come first (unbound, then not ready, then newest)."""
    bound = 1 if pod.get("spec", {}).get("nodeName") else 0
    ready = 1 if pod_ready(pod) else 0
    created = pod.get("metadata", {}).get("creationTimestamp") or ""
    inverted = "".join(chr(0x10FFFF - ord(c)) for c in created)
    return (bound, ready, inverted)


class ReplicaSetController:
    """Creates and deletes pods so each ReplicaSet has ``spec.replicas`` of them.

    Pods created but not yet observed count as existing ("expectations"), so a slow watch
    never leads to extra pods.
    """

    def __init__(self, kube: Kube, replicasets: Informer, pods: Informer) -> None:
        self.kube = kube
        self.replicasets = replicasets
        self.pods = pods
        self.queue = work_queue()
        self._expected: dict[str, set[str]] = {}
        self._deleting: set[str] = set()
        replicasets.add_handler(lambda kind, rs: self.queue.add(object_key(rs)))
        pods.add_handler(self._on_pod)

    def _on_pod(self, kind: str, pod: JSON) -> None:
        key = owner_key(pod, "ReplicaSet")
        if key is not None:
            self._expected.get(key, set()).discard(pod["metadata"]["name"])
            if kind == "DELETED" or pod["metadata"].get("deletionTimestamp"):
                self._deleting.discard(pod["metadata"]["uid"])
            self.queue.add(key)

    def owned_pods(self, rs: JSON) -> list[JSON]:
        """Pods controlled by ``rs`` in the cache."""
        return owned_by(self.pods, rs)

    async def reconcile(self, key: str) -> None:
        """Converge one ReplicaSet."""
        rs = self.replicasets.cache.get(key)
        if rs is None:
            self._expected.pop(key, None)
            return
        if rs["metadata"].get("deletionTimestamp"):
            return
        active = [
            pod
            for pod in self.owned_pods(rs)
            if pod_active(pod) and pod["metadata"]["uid"] not in self._deleting
        ]
        pending = self._expected.setdefault(key, set())
        known = {pod["metadata"]["name"] for pod in active}
        pending -= known
        desired = int(rs.get("spec", {}).get("replicas", 1))
        diff = desired - len(active) - len(pending)
        collection = pods_path(rs["metadata"]["namespace"])
        template = rs.get("spec", {}).get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not selector_matches(rs.get("spec", {}).get("selector") or {}, labels):
            raise ValueError(f"{key}: selector does not match template labels")
        for _ in range(max(diff, 0)):
            created = await create_pod(self.kube, template, rs)
            pending.add(created["metadata"]["name"])
        if diff < 0:
            doomed = sorted(active, key=deletion_order)[:-diff]
            for pod in doomed:
                self._deleting.add(pod["metadata"]["uid"])
                await self.kube.delete(f"{collection}/{pod['metadata']['name']}")
            active = [pod for pod in active if pod not in doomed]
        await self._update_status(rs, active)

    async def _update_status(self, rs: JSON, active: list[JSON]) -> None:
        ready = sum(1 for pod in active if pod_ready(pod))
        template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get(
            "labels"
        ) or {}
        labeled = sum(
            1
            for pod in active
            if all(
                pod["metadata"].get("labels", {}).get(k) == v for k, v in template_labels.items()
            )
        )
        status = {
            "replicas": len(active),
            "fullyLabeledReplicas": labeled,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        if not status_unchanged(rs.get("status"), status):
            await patch_status(self.kube, status_path("apis/apps/v1/replicasets", rs), status)

    async def run(self) -> None:
        """Reconcile until cancelled."""
        await run_when_synced(self.queue, self.reconcile, "replicaset", self.replicasets, self.pods)
