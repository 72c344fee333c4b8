"""core/v1 Events about the objects a controller reconciles, aggregated as client-go's
event correlator does: the same event (object, type, reason, message) recorded again
within :data:`AGGREGATION_WINDOW` bumps ``count`` and ``lastTimestamp`` of the Event
already posted instead of posting another, so a reconcile retried with back-off leaves
one Event, not one per attempt. A failed post is only logged: events never fail a
reconcile.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from liqo_core.kube import Kube, KubeError, describe_error

log = logging.getLogger(__name__)

#: Seconds during which a repeated event is folded into the one posted first (client-go:
#: 10 minutes).
AGGREGATION_WINDOW = 600.0
#: Distinct events remembered for aggregation (the oldest are forgotten first).
MAX_REMEMBERED = 4096
COMPONENT = "liqo-controller-manager"


def timestamp() -> str:
    """The current time as a Kubernetes timestamp."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Posted:
    namespace: str
    name: str
    count: int
    at: float


class EventRecorder:
    """Records Events about objects of one cluster as ``component``."""

    def __init__(
        self,
        kube: Kube,
        component: str = COMPONENT,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube = kube
        self.component = component
        self.clock = clock
        self._posted: OrderedDict[tuple[str, ...], _Posted] = OrderedDict()

    async def warning(
        self, obj: Mapping[str, Any], reason: str, message: str, *, kind: str, api_version: str
    ) -> None:
        """Record a Warning event about ``obj`` (a ``kind`` of ``api_version``)."""
        await self.record(obj, "Warning", reason, message, kind=kind, api_version=api_version)

    async def normal(
        self, obj: Mapping[str, Any], reason: str, message: str, *, kind: str, api_version: str
    ) -> None:
        """Record a Normal event about ``obj`` (a ``kind`` of ``api_version``)."""
        await self.record(obj, "Normal", reason, message, kind=kind, api_version=api_version)

    async def record(
        self,
        obj: Mapping[str, Any],
        type_: str,
        reason: str,
        message: str,
        *,
        kind: str,
        api_version: str,
    ) -> None:
        """Post (or aggregate) one event; failures are logged, never raised."""
        meta = obj.get("metadata") or {}
        stamp = timestamp()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name')}.{secrets.token_hex(8)}",
                "namespace": str(meta.get("namespace") or "default"),
            },
            "involvedObject": {
                "apiVersion": api_version,
                "kind": kind,
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        key = (str(meta.get("uid") or meta.get("name")), type_, reason, message[:1024])
        try:
            await self._post(key, event)
        except Exception as err:
            log.warning(
                "cannot record event %s on %s %s: %s",
                reason, kind, meta.get("name"), describe_error(err),
            )  # fmt: skip

    async def _post(self, key: tuple[str, ...], event: dict[str, Any]) -> None:
        now = self.clock()
        posted = self._posted.get(key)
        if posted is not None and now - posted.at < AGGREGATION_WINDOW:
            path = f"/api/v1/namespaces/{quote(posted.namespace)}/events/{quote(posted.name)}"
            patch = {"count": posted.count + 1, "lastTimestamp": event["lastTimestamp"]}
            try:
                await self.kube.merge_patch(path, patch)
            except KubeError as err:
                if err.status != 404:
                    raise
            else:
                posted.count += 1
                self._posted.move_to_end(key)
                return
        namespace, name = event["metadata"]["namespace"], event["metadata"]["name"]
        await self.kube.request("POST", f"/api/v1/namespaces/{quote(namespace)}/events", event)
        self._posted[key] = _Posted(namespace, name, 1, now)
        self._posted.move_to_end(key)
        while len(self._posted) > MAX_REMEMBERED:
            self._posted.popitem(last=False)
