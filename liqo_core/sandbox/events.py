"""Core/v1 Events, as kube-scheduler and the kubelet post them (best effort)."""

from __future__ import annotations

import logging
from typing import Any

from liqo_core.kube import Kube, KubeError
from liqo_core.sandbox.timeutil import now

JSON = dict[str, Any]
log = logging.getLogger(__name__)


def event_object(
    obj: JSON, *, kind: str, reason: str, message: str, component: str, host: str = ""
) -> JSON:
    """An Event about ``obj`` (``kind`` is Normal or Warning)."""
    meta = obj["metadata"]
    stamp = now()
    source: JSON = {"component": component}
    if host:
        source["host"] = host
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "generateName": f"{meta['name']}.",
            "namespace": meta.get("namespace", "default"),
        },
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", "v1"),
            "kind": obj.get("kind", "Pod"),
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "uid": meta.get("uid", ""),
        },
        "type": kind,
        "reason": reason,
        "message": message,
        "source": source,
        "reportingComponent": component,
        "reportingInstance": host or component,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


async def pod_event(
    kube: Kube, pod: JSON, *, kind: str, reason: str, message: str, component: str, host: str = ""
) -> None:
    """Post an Event about ``pod`` (see :func:`record`)."""
    await record(
        kube,
        {"apiVersion": "v1", "kind": "Pod", **pod},
        kind=kind,
        reason=reason,
        message=message,
        component=component,
        host=host,
    )


async def record(
    kube: Kube, obj: JSON, *, kind: str, reason: str, message: str, component: str, host: str = ""
) -> None:
    """Post an Event; failures are logged, never raised."""
    body = event_object(
        obj, kind=kind, reason=reason, message=message, component=component, host=host
    )
    namespace = body["metadata"]["namespace"]
    try:
        await kube.request("POST", f"/api/v1/namespaces/{namespace}/events", body)
    except (KubeError, OSError) as err:
        log.debug("event %s for %s not recorded: %s", reason, obj["metadata"].get("name"), err)
