"""Events about local objects, posted in the background (client-go's broadcaster): a
reflection never waits for its event, and a failed post is only logged."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from liqo_core.kube import Kube, describe_error

log = logging.getLogger(__name__)

#: Events waiting to be posted beyond which new ones are dropped (a slow API server).
MAX_PENDING = 256
#: Seconds a stopping process waits for its last events.
FLUSH_TIMEOUT = 2.0


def now() -> str:
    """The current time as a Kubernetes timestamp."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    """Posts core/v1 Events as ``component`` on the cluster of ``kube``."""

    def __init__(self, kube: Kube, component: str, host: str = "") -> None:
        self.kube = kube
        self.component = component
        self.host = host
        self._pending: set[asyncio.Task[None]] = set()

    def normal(self, obj: Mapping[str, Any], reason: str, message: str) -> None:
        """Record a Normal event about ``obj``."""
        self._record(obj, "Normal", reason, message)

    def warning(self, obj: Mapping[str, Any], reason: str, message: str) -> None:
        """Record a Warning event about ``obj``."""
        self._record(obj, "Warning", reason, message)

    def _record(self, obj: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        if len(self._pending) >= MAX_PENDING:
            log.debug("dropping event %s: too many pending", reason)
            return
        task = asyncio.get_running_loop().create_task(self._post(obj, kind, reason, message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _post(self, obj: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        stamp = now()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name')}.{secrets.token_hex(8)}",
                "namespace": namespace,
            },
            "involvedObject": {
                "apiVersion": obj.get("apiVersion") or "v1",
                "kind": obj.get("kind") or "Pod",
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": kind,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": self.component, "host": self.host}
            if self.host
            else {"component": self.component},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "reportingComponent": self.component,
        }
        try:
            await self.kube.request("POST", f"/api/v1/namespaces/{namespace}/events", event)
        except Exception as err:
            log.warning(
                "cannot record event %s on %s: %s", reason, meta.get("name"), describe_error(err)
            )

    async def flush(self) -> None:
        """Wait (at most :data:`FLUSH_TIMEOUT`) for the events being posted."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=FLUSH_TIMEOUT)
