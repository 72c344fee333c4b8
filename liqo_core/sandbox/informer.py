"""List+watch caches and a keyed work queue: the skeleton of every sandbox controller."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from liqo_core.kube import Kube, KubeError

JSON = dict[str, Any]
Handler = Callable[[str, JSON], None]

log = logging.getLogger(__name__)


def object_key(obj: JSON) -> str:
    """``namespace/name`` (or ``name`` for cluster-scoped objects)."""
    meta = obj.get("metadata", {})
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else str(meta["name"])


class Informer:
    """Keeps a cache of one collection (``path``, e.g. ``/api/v1/pods``) current.

    Lists, then watches from the list's resourceVersion; on a ``410 Gone`` (or a broken
    stream it cannot resume) it lists again and reconciles the cache, reporting objects
    that vanished meanwhile as ``DELETED``. Handlers get ``(event_type, object)``.
    """

    def __init__(self, kube: Kube, path: str) -> None:
        self.kube = kube
        self.path = path
        self.cache: dict[str, JSON] = {}
        self.synced = asyncio.Event()
        self._handlers: list[Handler] = []

    def add_handler(self, handler: Handler) -> None:
        """Call ``handler`` on every change (registered before :meth:`run`)."""
        self._handlers.append(handler)

    def _emit(self, kind: str, obj: JSON) -> None:
        for handler in self._handlers:
            try:
                handler(kind, obj)
            except Exception:
                log.exception("informer handler failed for %s", self.path)

    async def _relist(self) -> str:
        data = await self.kube.request("GET", self.path)
        fresh = {object_key(item): item for item in data.get("items") or []}
        for key in list(self.cache):
            if key not in fresh:
                self._emit("DELETED", self.cache.pop(key))
        for key, item in fresh.items():
            known = key in self.cache
            self.cache[key] = item
            self._emit("MODIFIED" if known else "ADDED", item)
        self.synced.set()
        return str(data.get("metadata", {}).get("resourceVersion", ""))

    async def run(self) -> None:
        """List and watch until cancelled."""
        resource_version = ""
        while True:
            try:
                if not resource_version:
                    resource_version = await self._relist()
                async for event in self.kube.watch(self.path, resource_version):
                    kind = event.get("type")
                    obj = event.get("object") or {}
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            resource_version = ""
                        break
                    new_version = obj.get("metadata", {}).get("resourceVersion")
                    if new_version:
                        resource_version = str(new_version)
                    if kind == "BOOKMARK":
                        continue
                    key = object_key(obj)
                    if kind == "DELETED":
                        self.cache.pop(key, None)
                    else:
                        self.cache[key] = obj
                    self._emit(str(kind), obj)
            except asyncio.CancelledError:
                raise
            except KubeError as err:
                if err.status == 410:
                    resource_version = ""
                    continue
                log.warning("watch %s failed: %s", self.path, err)
                resource_version = ""
                await asyncio.sleep(1.0 + random.random())
            except Exception as err:
                log.warning("watch %s broke: %r", self.path, err)
                resource_version = ""
                await asyncio.sleep(1.0 + random.random())

    def items(self) -> list[JSON]:
        """A snapshot of the cached objects."""
        return list(self.cache.values())


class WorkQueue:
    """Deduplicating queue of keys with per-key retry back-off (0.1 s doubling to 10 s).

    A key is never processed by two workers at once; a key added while being processed is
    processed again afterwards.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._active: set[str] = set()
        self._dirty: set[str] = set()
        self._failures: dict[str, int] = {}

    def add(self, key: str) -> None:
        """Schedule ``key`` for processing."""
        if key in self._active:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: str, delay: float) -> None:
        """Schedule ``key`` after ``delay`` seconds."""
        asyncio.get_running_loop().call_later(delay, self.add, key)

    async def run(self, reconcile: Callable[[str], Any], name: str) -> None:
        """Process keys forever with ``reconcile`` (an async callable)."""
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._active.add(key)
            try:
                await reconcile(key)
                self._failures.pop(key, None)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                failures = self._failures.get(key, 0) + 1
                self._failures[key] = failures
                log.warning("%s: reconcile %s failed (%d): %r", name, key, failures, err)
                self.add_after(key, min(0.1 * 2**failures, 10.0))
            finally:
                self._active.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)
