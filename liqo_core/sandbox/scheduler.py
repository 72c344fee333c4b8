"""A scheduler for ``default-scheduler`` pods: filter (see :mod:`scheduling`), score, bind."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from liqo_core.kube import Informer, Kube, KubeError, object_key
from liqo_core.sandbox import events, scheduling
from liqo_core.sandbox.controllerruntime import (
    patch_status,
    run_when_synced,
    status_path,
    work_queue,
)
from liqo_core.sandbox.timeutil import now

JSON = dict[str, Any]
log = logging.getLogger(__name__)

SCHEDULER_NAME = "default-scheduler"
RETRY_UNSCHEDULABLE = 5.0


def wants_scheduling(pod: JSON) -> bool:
    """Pending, unbound, not terminating and addressed to the default scheduler."""
    spec = pod.get("spec", {})
    return (
        not spec.get("nodeName")
        and (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME
        and not pod.get("metadata", {}).get("deletionTimestamp")
        and not scheduling.pod_is_terminal(pod)
    )


class Scheduler:
    """Binds pending pods through ``pods/<name>/binding``.

    Pods it bound but has not yet seen bound in the cache count against the node
    ("assumed" pods, as in kube-scheduler), so a burst of pods cannot overcommit a node.
    If the API has no binding subresource (404), it falls back to a patch of
    ``spec.nodeName``.
    """

    def __init__(self, kube: Kube, pods: Informer, nodes: Informer) -> None:
        self.kube = kube
        self.pods = pods
        self.nodes = nodes
        self.queue = work_queue()
        self._assumed: dict[str, tuple[str, JSON]] = {}
        pods.add_handler(self._on_pod)
        nodes.add_handler(self._on_node)

    def _on_pod(self, kind: str, pod: JSON) -> None:
        key = object_key(pod)
        if kind == "DELETED" or pod.get("spec", {}).get("nodeName"):
            self._assumed.pop(key, None)
        if kind == "DELETED" or scheduling.pod_is_terminal(pod):
            self._requeue_pending()
        elif wants_scheduling(pod):
            self.queue.add(key)

    def _on_node(self, kind: str, node: JSON) -> None:
        self._requeue_pending()

    def _requeue_pending(self) -> None:
        for pod in self.pods.items():
            if wants_scheduling(pod):
                self.queue.add(object_key(pod))

    def pods_by_node(self) -> dict[str, list[JSON]]:
        """Non-terminal pods per node, counting assumed bindings."""
        result: dict[str, list[JSON]] = {}
        for key, pod in self.pods.cache.items():
            node = pod.get("spec", {}).get("nodeName")
            if key in self._assumed:
                node = self._assumed[key][0]
            if node and not scheduling.pod_is_terminal(pod):
                result.setdefault(node, []).append(pod)
        return result

    def choose(self, pod: JSON) -> tuple[str | None, Counter[str]]:
        """The best feasible node, or None and the per-reason node counts."""
        reasons: Counter[str] = Counter()
        by_node = self.pods_by_node()
        best: tuple[float, str] | None = None
        for node in sorted(self.nodes.items(), key=lambda n: n["metadata"]["name"]):
            name = node["metadata"]["name"]
            placed = by_node.get(name, [])
            failures = scheduling.filter_node(pod, node, placed)
            if failures:
                reasons.update(failures)
                continue
            score = scheduling.score_node(pod, node, placed)
            if best is None or score > best[0]:
                best = (score, name)
        return (best[1] if best else None), reasons

    async def reconcile(self, key: str) -> None:
        """Try to bind one pod."""
        pod = self.pods.cache.get(key)
        if pod is None or not wants_scheduling(pod) or key in self._assumed:
            return
        node, reasons = self.choose(pod)
        if node is None:
            await self._report_unschedulable(pod, reasons)
            self.queue.add_after(key, RETRY_UNSCHEDULABLE)
            return
        self._assumed[key] = (node, pod)
        try:
            await self._bind(pod, node)
        except KubeError as err:
            self._assumed.pop(key, None)
            if err.status in (404, 409):
                return
            raise
        log.info("bound %s to %s", key, node)
        meta = pod["metadata"]
        await events.pod_event(
            self.kube,
            pod,
            kind="Normal",
            reason="Scheduled",
            message=f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}",
            component=SCHEDULER_NAME,
        )

    async def _bind(self, pod: JSON, node: str) -> None:
        meta = pod["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        try:
            await self.kube.request("POST", f"{path}/binding", binding)
        except KubeError as err:
            if err.status != 404 or await self.kube.get(path) is None:
                raise
            log.warning("no pods/binding subresource: patching spec.nodeName of %s", path)
            await self.kube.merge_patch(path, {"spec": {"nodeName": node}})

    async def _report_unschedulable(self, pod: JSON, reasons: Counter[str]) -> None:
        message = scheduling.unschedulable_message(len(self.nodes.cache), reasons)
        conditions = pod.get("status", {}).get("conditions") or []
        current = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
        if current and current.get("status") == "False" and current.get("message") == message:
            return
        others = [c for c in conditions if c.get("type") != "PodScheduled"]
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": now(),
        }
        status = {"phase": "Pending", "conditions": [*others, condition]}
        await events.pod_event(
            self.kube,
            pod,
            kind="Warning",
            reason="FailedScheduling",
            message=message,
            component=SCHEDULER_NAME,
        )
        await patch_status(self.kube, status_path("api/v1/pods", pod), status)

    async def run(self) -> None:
        """Schedule until cancelled."""
        await run_when_synced(
            self.queue,
            self.reconcile,
            "scheduler",
            self.pods,
            self.nodes,
            before=self._requeue_pending,
        )
