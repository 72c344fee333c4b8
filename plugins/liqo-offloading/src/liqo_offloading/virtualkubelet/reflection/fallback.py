"""Pods on the virtual node outside offloaded namespaces (upstream FallbackPodReflector).

Nothing can run them: a pod that never started is marked ``Pending`` with reason
``OffloadingBackOff``; one that had started (its namespace stopped being offloaded) is
marked ``Failed`` with reason ``OffloadingAborted``, so that its controller replaces it.
Completed pods are left alone; terminating ones are deleted at once (grace 0), as a
kubelet confirms a termination.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from liqo_core.api.consts import TYPE_LABEL, TYPE_VIRTUAL_NODE
from liqo_core.kube import Informer, KubeError, describe_error
from liqo_offloading.virtualkubelet.events import now
from liqo_offloading.virtualkubelet.reflection.forge import JSONObject, meta_of
from liqo_offloading.virtualkubelet.reflection.framework import (
    FallbackReflection,
    ReflectionContext,
)
from liqo_offloading.virtualkubelet.reflection.podforge import (
    OFFLOADING_ABORTED,
    OFFLOADING_BACKOFF,
    TERMINAL_PHASES,
    rejected_pod_status,
)

log = logging.getLogger(__name__)


def refusal(status: JSONObject) -> tuple[str, str] | None:
    """The phase and reason a pod outside offloaded namespaces gets (None: leave it)."""
    phase = status.get("phase")
    if phase in TERMINAL_PHASES:
        return None
    if phase not in (None, "Pending") or status.get("containerStatuses"):
        return "Failed", OFFLOADING_ABORTED
    return "Pending", OFFLOADING_BACKOFF


class PodFallback(FallbackReflection):
    """Refuses the pods bound to this node in namespaces that are not offloaded."""

    def __init__(self, context: ReflectionContext, local_pods: Informer) -> None:
        self.context = context
        self.local_pods = local_pods

    async def handle(self, namespace: str, name: str) -> float | None:
        local = self.local_pods.cache.get(f"{namespace}/{name}")
        if local is None:
            return None
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(name, safe='')}"
        meta = meta_of(local)
        if meta.get("deletionTimestamp"):
            options = {"gracePeriodSeconds": 0, "preconditions": {"uid": meta.get("uid")}}
            await self.context.local.delete(path, options)
            log.info("deleted terminating pod %s/%s (namespace not offloaded)", namespace, name)
            return None
        status = dict(local.get("status") or {})
        verdict = refusal(status)
        if verdict is None:
            return None
        phase, reason = verdict
        refused = rejected_pod_status(status, phase, reason, now())
        if refused == status:
            return None
        try:
            await self.context.local.request(
                "PUT",
                f"{path}/status",
                {**local, "apiVersion": "v1", "kind": "Pod", "status": refused},
            )
        except KubeError as err:
            if err.status == 404:
                return None
            self.context.events.warning(local, "ReflectionDisabled", self._message(namespace, err))
            raise
        log.info("pod %s/%s marked %s (%s)", namespace, name, phase, reason)
        self.context.events.warning(local, "ReflectionDisabled", self._message(namespace))
        return None

    def _message(self, namespace: str, err: Exception | None = None) -> str:
        cluster = self.context.identity.foreign_cluster_id
        text = f"Namespace {namespace!r} is not offloaded to cluster {cluster!r}"
        if err is not None:
            return f"{text}; updating the pod status failed: {describe_error(err)}"
        return (
            f"{text}: the pod cannot run on this virtual node. To keep pods of a DaemonSet "
            f"off virtual nodes, require nodes without label {TYPE_LABEL}={TYPE_VIRTUAL_NODE}."
        )
