"""Small API helpers of the VirtualNode machinery: merge-patch diffs, server-side apply,
events."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from liqo_core.kube import Kube, describe_error
from liqo_offloading.virtualnode.conditions import now

JSONObject = dict[str, Any]
APPLY_PATCH = "application/apply-patch+yaml"

log = logging.getLogger(__name__)


def merge_diff(live: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> JSONObject:
    """The JSON merge patch (RFC 7386) turning the keys of ``desired`` in ``live`` into
    ``desired``: nested maps are diffed, keys ``live`` has and ``desired`` lacks inside
    them become ``None`` (removed), other values are replaced. Empty: nothing to do."""
    live = live or {}
    patch: JSONObject = {}
    for key, want in desired.items():
        have = live.get(key)
        if isinstance(want, Mapping) and isinstance(have, Mapping):
            inner = merge_diff(have, want)
            inner.update({k: None for k in have if k not in want})
            if inner:
                patch[key] = inner
        elif have != want:
            patch[key] = want
    return patch


async def apply(kube: Kube, path: str, body: JSONObject, manager: str) -> JSONObject:
    """Server-side apply ``body`` at ``path`` as ``manager`` (taking over conflicts)."""
    query = {"fieldManager": manager, "force": "true"}
    return await kube.request("PATCH", path, body, query=query, content_type=APPLY_PATCH)


async def record_event(
    kube: Kube, obj: Mapping[str, Any], kind: str, reason: str, message: str, *, warning: bool
) -> None:
    """Post a core/v1 Event about ``obj`` (of ``kind``); failures are only logged."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    stamp = now()
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta.get('name')}.{secrets.token_hex(8)}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion"),
            "kind": kind,
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        },
        "type": "Warning" if warning else "Normal",
        "reason": reason,
        "message": message,
        "source": {"component": "liqo-controller-manager"},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
    try:
        await kube.request("POST", f"/api/v1/namespaces/{namespace}/events", event)
    except Exception as err:
        log.warning(
            "cannot record event %s on %s: %s", reason, meta.get("name"), describe_error(err)
        )
