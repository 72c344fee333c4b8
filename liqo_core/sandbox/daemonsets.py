"""DaemonSet controller: one pod per eligible node, placed by the scheduler.

As in Kubernetes, each daemon pod carries a required node affinity on
``metadata.name`` (matchFields) for its node plus the DaemonSet tolerations, and the
scheduler binds it. A node is eligible when the pod template's nodeSelector and node
affinity match it and it has no NoSchedule/NoExecute taint the template does not tolerate.
Template changes replace pods one node at a time (RollingUpdate, maxUnavailable 1).
"""

from __future__ import annotations

import copy
import functools
import logging
from typing import Any

from liqo_core.kube import Informer, Kube, object_key
from liqo_core.sandbox import scheduling
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
from liqo_core.sandbox.ownership import pod_active, pod_ready, template_hash

JSON = dict[str, Any]
log = logging.getLogger(__name__)

REVISION_LABEL = "controller-revision-hash"


def daemon_pod_template(template: JSON) -> JSON:
    """The template with the DaemonSet controller's tolerations added."""
    result = copy.deepcopy(template)
    spec = result.setdefault("spec", {})
    tolerations = list(spec.get("tolerations") or [])
    for toleration in scheduling.daemonset_tolerations():
        if toleration not in tolerations:
            tolerations.append(toleration)
    spec["tolerations"] = tolerations
    return result


def node_eligible(template: JSON, node: JSON) -> bool:
    """Whether a daemon pod of ``template`` should run on ``node``."""
    pod = daemon_pod_template(template)
    return scheduling.matches_node_affinity(pod, node) and (
        scheduling.untolerated_taint(pod, node) is None
    )


def pin_to_node(pod: JSON, node_name: str) -> JSON:
    """Replace the pod's required node affinity terms with ``metadata.name In [node]``
    (keeping the template's own expressions in every term, as the DaemonSet controller does)."""
    spec = pod.setdefault("spec", {})
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    field = {"key": "metadata.name", "operator": "In", "values": [node_name]}
    terms = required.get("nodeSelectorTerms") or [{}]
    required["nodeSelectorTerms"] = [
        {"matchExpressions": list(term.get("matchExpressions") or []), "matchFields": [field]}
        if term.get("matchExpressions")
        else {"matchFields": [field]}
        for term in terms
    ]
    return pod


def target_node(pod: JSON) -> str | None:
    """The node a daemon pod is bound or pinned to."""
    bound = pod.get("spec", {}).get("nodeName")
    if bound:
        return str(bound)
    affinity = (pod.get("spec", {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("values"):
                return str(field["values"][0])
    return None


class DaemonSetController:
    """Keeps one pod of each DaemonSet on each eligible node."""

    def __init__(self, kube: Kube, daemonsets: Informer, nodes: Informer, pods: Informer) -> None:
        self.kube = kube
        self.daemonsets = daemonsets
        self.nodes = nodes
        self.pods = pods
        self.queue = work_queue()
        self._expected: dict[str, set[str]] = {}
        daemonsets.add_handler(lambda kind, ds: self.queue.add(object_key(ds)))
        nodes.add_handler(lambda kind, node: self._requeue_all())
        pods.add_handler(self._on_pod)

    def _requeue_all(self) -> None:
        for key in list(self.daemonsets.cache):
            self.queue.add(key)

    def _on_pod(self, kind: str, pod: JSON) -> None:
        key = owner_key(pod, "DaemonSet")
        if key is not None:
            node = target_node(pod)
            if node:
                self._expected.get(key, set()).discard(node)
            self.queue.add(key)

    async def reconcile(self, key: str) -> None:
        """Converge one DaemonSet."""
        ds = self.daemonsets.cache.get(key)
        if ds is None:
            self._expected.pop(key, None)
            return
        if ds["metadata"].get("deletionTimestamp"):
            return
        template = ds.get("spec", {}).get("template") or {}
        revision = template_hash(template)
        collection = pods_path(ds["metadata"]["namespace"])
        by_node: dict[str, list[JSON]] = {}
        for pod in owned_by(self.pods, ds):
            if pod_active(pod):
                by_node.setdefault(target_node(pod) or "", []).append(pod)
        expected = self._expected.setdefault(key, set())
        nodes = {node["metadata"]["name"]: node for node in self.nodes.items()}
        eligible = {name for name, node in nodes.items() if node_eligible(template, node)}
        for name in sorted(eligible):
            if by_node.get(name) or name in expected:
                continue
            await create_pod(
                self.kube,
                daemon_pod_template(template),
                ds,
                {REVISION_LABEL: revision},
                customise=functools.partial(pin_to_node, node_name=name),
            )
            expected.add(name)
        misscheduled = 0
        for name, pods in by_node.items():
            extra = pods if name not in eligible else pods[1:]
            if name not in eligible:
                misscheduled += 1
            for pod in extra:
                await self.kube.delete(f"{collection}/{pod['metadata']['name']}")
        outdated = [
            pods[0]
            for name, pods in by_node.items()
            if name in eligible
            and pods[0]["metadata"].get("labels", {}).get(REVISION_LABEL) != revision
        ]
        all_ready = all(pod_ready(pods[0]) for name, pods in by_node.items() if name in eligible)
        if outdated and all_ready and len(by_node) >= len(eligible):
            await self.kube.delete(f"{collection}/{outdated[0]['metadata']['name']}")
        scheduled = [pods[0] for name, pods in by_node.items() if name in eligible]
        ready = sum(1 for pod in scheduled if pod_ready(pod))
        status = {
            "desiredNumberScheduled": len(eligible),
            "currentNumberScheduled": len(scheduled),
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "numberAvailable": ready,
            "numberUnavailable": len(eligible) - ready,
            "updatedNumberScheduled": sum(
                1
                for pod in scheduled
                if pod["metadata"].get("labels", {}).get(REVISION_LABEL) == revision
            ),
            "observedGeneration": ds["metadata"].get("generation", 1),
        }
        if not status_unchanged(ds.get("status"), status):
            await patch_status(self.kube, status_path("apis/apps/v1/daemonsets", ds), status)

    async def run(self) -> None:
        """Reconcile until cancelled."""
        await run_when_synced(
            self.queue, self.reconcile, "daemonset", self.daemonsets, self.nodes, self.pods
        )
