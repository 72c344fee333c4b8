"""Taking a virtual Node out of service: cordon it, then delete the pods bound to it.

As ``kubectl drain`` (and upstream's virtual-node deletion routine) without the eviction
subresource: every pod bound to the Node, except DaemonSet and mirror pods, is deleted
with its own grace period, so the virtual kubelet (still running) removes its remote
twin first. A pod still there well after its grace period ended (no virtual kubelet to
finish it) is deleted at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from liqo_core.kube import Kube
from liqo_offloading.virtualnode.names import MIRROR_POD_ANNOTATION, NODES, PODS, named, namespaced

JSONObject = dict[str, Any]
log = logging.getLogger(__name__)

#: Seconds past a pod's deletion deadline after which it is deleted without grace.
FORCE_AFTER = 30.0


async def cordon(kube: Kube, node: Mapping[str, Any]) -> None:
    """Mark ``node`` unschedulable (if it is not already)."""
    if not (node.get("spec") or {}).get("unschedulable"):
        name = node["metadata"]["name"]
        await kube.merge_patch(named(NODES, name), {"spec": {"unschedulable": True}})
        log.info("Node %s cordoned", name)


def drains(pod: Mapping[str, Any]) -> bool:
    """Whether a drain removes ``pod`` (not a DaemonSet's nor a mirror pod)."""
    meta = pod.get("metadata") or {}
    if MIRROR_POD_ANNOTATION in (meta.get("annotations") or {}):
        return False
    return not any(ref.get("kind") == "DaemonSet" for ref in meta.get("ownerReferences") or [])


def overdue(pod: Mapping[str, Any], now: dt.datetime) -> bool:
    """Whether ``pod`` is being deleted and its grace period ended long ago."""
    stamp = (pod.get("metadata") or {}).get("deletionTimestamp")
    if not stamp:
        return False
    deadline = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return (now - deadline).total_seconds() > FORCE_AFTER


async def drain(kube: Kube, node_name: str) -> int:
    """Delete the pods bound to ``node_name``; return how many are still there."""
    query = {"fieldSelector": f"spec.nodeName={node_name}"}
    answer = await kube.request("GET", PODS, query=query)
    pods = [p for p in answer.get("items") or [] if drains(p)]
    now = dt.datetime.now(dt.UTC)
    for pod in pods:
        meta = pod["metadata"]
        path = namespaced(PODS, meta["namespace"], meta["name"])
        options: JSONObject = {"preconditions": {"uid": meta["uid"]}}
        if not meta.get("deletionTimestamp"):
            log.info(
                "draining Node %s: deleting pod %s/%s", node_name, meta["namespace"], meta["name"]
            )
        elif overdue(pod, now):
            log.info(
                "draining Node %s: pod %s/%s is overdue, deleting it without grace",
                node_name,
                meta["namespace"],
                meta["name"],
            )
            options["gracePeriodSeconds"] = 0
        else:
            continue
        await kube.delete(path, options)
    return len(pods)
