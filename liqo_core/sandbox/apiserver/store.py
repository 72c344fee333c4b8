"""In-memory object store: one global resourceVersion, bounded event history, watchers.

Stored objects are plain dicts treated as immutable: every write stores a new dict, so
readers (lists, watch events, list snapshots) can share them without copying.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .types import JSON

Key = tuple[str, str]
"""(group, resource) at storage level, independent of the served version."""

CLOSED = "CLOSED"
"""Event type telling a watcher that its resource is no longer served."""

START_RV = 1000
"""First resourceVersion: watches from older versions are answered 410, as after compaction."""


@dataclass(frozen=True)
class StoreEvent:
    """A committed change; ``old`` is the previous state (None for ADDED)."""

    rv: int
    type: str
    obj: JSON
    old: JSON | None


class Expired(Exception):
    """The requested resourceVersion is older than the retained history."""


@dataclass(eq=False)
class Watcher:
    """One watch: receives the events of one resource (optionally one namespace)."""

    key: Key
    namespace: str | None
    queue: asyncio.Queue[StoreEvent] = field(default_factory=asyncio.Queue)

    def offer(self, event: StoreEvent) -> None:
        """Queue ``event`` if it concerns this watcher's namespace."""
        if self.namespace is not None:
            meta = event.obj["metadata"]
            if meta.get("namespace", "") != self.namespace:
                return
        self.queue.put_nowait(event)


@dataclass
class _Bucket:
    objects: dict[str, dict[str, JSON]] = field(default_factory=dict)  # ns -> name -> obj
    history: deque[StoreEvent] = field(default_factory=deque)
    floor: int = START_RV
    watchers: set[Watcher] = field(default_factory=set)
    count: int = 0


Listener = Callable[[Key, StoreEvent], None]
Objects = list[JSON]
KeyList = list[Key]


class Store:
    """Objects by (group, resource, namespace, name) with watch history."""

    def __init__(self, history_size: int = 20000, snapshots: int = 256) -> None:
        self.rv = START_RV
        self.history_size = history_size
        self._buckets: dict[Key, _Bucket] = {}
        self._uids: dict[str, tuple[Key, str, str]] = {}
        self._listeners: list[Listener] = []
        self._snapshots: OrderedDict[str, Objects] = OrderedDict()
        self._max_snapshots = snapshots

    def _bucket(self, key: Key) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket()
        return bucket

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` synchronously after every commit (in-process controllers)."""
        self._listeners.append(listener)

    def get(self, key: Key, namespace: str, name: str) -> JSON | None:
        """The stored object, or None."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return None
        return bucket.objects.get(namespace, {}).get(name)

    def by_uid(self, uid: str) -> tuple[Key, JSON] | None:
        """The live object with this uid, if any."""
        loc = self._uids.get(uid)
        if loc is None:
            return None
        obj = self.get(*loc)
        return (loc[0], obj) if obj is not None else None

    def iter(self, key: Key, namespace: str | None = None) -> Iterator[JSON]:
        """Objects of a resource in no particular order."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return
        if namespace is not None:
            yield from bucket.objects.get(namespace, {}).values()
            return
        for objs in bucket.objects.values():
            yield from objs.values()

    def list(self, key: Key, namespace: str | None = None) -> Objects:
        """Objects sorted by namespace then name (etcd key order)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return []
        if namespace is not None:
            objs = bucket.objects.get(namespace, {})
            return [objs[n] for n in sorted(objs)]
        out: Objects = []
        for ns in sorted(bucket.objects):
            objs = bucket.objects[ns]
            out.extend(objs[n] for n in sorted(objs))
        return out

    def count(self, key: Key) -> int:
        """Number of stored objects of a resource."""
        bucket = self._buckets.get(key)
        return bucket.count if bucket else 0

    def namespaces_in_use(self, namespace: str) -> KeyList:
        """Resources that still hold objects in ``namespace``."""
        return [k for k, b in self._buckets.items() if b.objects.get(namespace)]

    def next_rv(self) -> int:
        """Allocate a resourceVersion."""
        self.rv += 1
        return self.rv

    def commit(self, key: Key, obj: JSON, old: JSON | None, deleted: bool = False) -> JSON:
        """Store (or remove, if ``deleted``) ``obj`` under a new resourceVersion.

        ``obj`` must be a fresh dict owned by the store from now on.
        """
        rv = self.next_rv()
        meta = obj["metadata"] = dict(obj["metadata"])
        meta["resourceVersion"] = str(rv)
        ns, name = meta.get("namespace", ""), meta["name"]
        bucket = self._bucket(key)
        if deleted:
            objs = bucket.objects.get(ns)
            if objs is not None and objs.pop(name, None) is not None:
                bucket.count -= 1
                if not objs:
                    del bucket.objects[ns]
            self._uids.pop(meta.get("uid", ""), None)
            etype = "DELETED"
        else:
            objs = bucket.objects.setdefault(ns, {})
            if name not in objs:
                bucket.count += 1
            objs[name] = obj
            self._uids[meta["uid"]] = (key, ns, name)
            etype = "ADDED" if old is None else "MODIFIED"
        event = StoreEvent(rv, etype, obj, old)
        bucket.history.append(event)
        while len(bucket.history) > self.history_size:
            bucket.floor = bucket.history.popleft().rv
        for watcher in bucket.watchers:
            watcher.offer(event)
        for listener in self._listeners:
            listener(key, event)
        return obj

    def watch(self, key: Key, namespace: str | None, since: int | None) -> Watcher:
        """Register a watcher; with ``since``, first queue the retained events after it.

        Raises Expired if events after ``since`` are no longer retained.
        """
        bucket = self._bucket(key)
        watcher = Watcher(key, namespace)
        if since is not None and since < self.rv:
            if since < bucket.floor:
                raise Expired(f"too old resource version: {since} ({bucket.floor})")
            for event in bucket.history:
                if event.rv > since:
                    watcher.offer(event)
        bucket.watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        """Forget a watcher."""
        bucket = self._buckets.get(watcher.key)
        if bucket is not None:
            bucket.watchers.discard(watcher)

    def drop(self, key: Key) -> None:
        """Forget a whole resource (its CRD is gone); its watchers get a CLOSED event."""
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            return
        closed = StoreEvent(self.rv, CLOSED, {"metadata": {"name": ""}}, None)
        for watcher in bucket.watchers:
            watcher.queue.put_nowait(closed)
        for objs in bucket.objects.values():
            for obj in objs.values():
                self._uids.pop(obj["metadata"].get("uid", ""), None)

    def save_snapshot(self, token: str, items: Objects) -> None:
        """Keep the rest of a paginated list for its continue token."""
        self._snapshots[token] = items
        while len(self._snapshots) > self._max_snapshots:
            self._snapshots.popitem(last=False)

    def snapshot(self, token: str) -> Objects | None:
        """The items saved for a continue token (None once evicted)."""
        return self._snapshots.pop(token, None)
