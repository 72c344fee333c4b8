"""Informers: a local, indexed copy of one collection kept current by list + watch.

As client-go's reflector and shared informer: list (in pages), then watch from the list's
resourceVersion with bookmarks; a stream that ends or breaks resumes from the last version
seen (with back-off while the server is unreachable); a ``410 Gone`` relists and turns the
difference with the cache into events, so consumers see every change once. One informer
per (collection, selectors) is meant to be shared: see :class:`Informers`. Failures are
logged and retried; ``on_error`` and ``on_recovered`` let an owner report them too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from liqo_core.kube.backoff import Backoff
from liqo_core.kube.objectcache import IndexFunc, JSONObject, ObjectCache, object_key
from liqo_core.kube.rest import Kube, KubeError, WatchExpiredError

log = logging.getLogger(__name__)

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"

Handler = Callable[[str, JSONObject], None]
"""Called with the event type (``ADDED``, ``MODIFIED``, ``DELETED``) and the object."""

LIST_PAGE = 500
WATCH_TIMEOUT = 300


@dataclass(frozen=True)
class EventHandler:
    """client-go's ``ResourceEventHandlerFuncs``: any of the three may be left out."""

    on_add: Callable[[JSONObject], None] | None = None
    on_update: Callable[[JSONObject, JSONObject], None] | None = None
    on_delete: Callable[[JSONObject], None] | None = None


def _version(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")


class Informer:
    """Keeps :attr:`cache` equal to the collection at ``path`` (e.g. ``/api/v1/pods``),
    optionally filtered by label and field selectors, and tells handlers of each change.

    Handlers run in the event loop, synchronously, in the order of the changes; they
    should only note the change (typically: queue a key). Register them and indexes
    before :meth:`run`, or at any time (a late handler first gets an ``ADDED`` for each
    cached object, as in client-go).

    ``on_error(err)`` is called on each failed list or watch (an expired watch is no
    failure: it relists), before the back-off; ``on_recovered()`` once after failures,
    when a list completes or a watch delivers again.
    """

    def __init__(
        self,
        kube: Kube,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexes: Mapping[str, IndexFunc] | None = None,
        watch_timeout: int = WATCH_TIMEOUT,
        backoff: Backoff | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_recovered: Callable[[], None] | None = None,
    ) -> None:
        self.kube = kube
        self.path = path
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.cache = ObjectCache(indexes)
        self.watch_timeout = watch_timeout
        self.backoff = backoff or Backoff(initial=0.8, cap=30.0, jitter=0.2)
        self.on_error = on_error
        self.on_recovered = on_recovered
        #: The last resourceVersion seen (a watch resumes from it); "" before the first list.
        self.resource_version = ""
        #: How many times the collection was listed (the first list included).
        self.lists = 0
        self._synced = asyncio.Event()
        self._handlers: list[EventHandler] = []
        self._failing = False

    def describe(self) -> str:
        """The collection and selectors, for logs."""
        selectors = [s for s in (self.label_selector, self.field_selector) if s]
        return f"{self.path}?{','.join(selectors)}" if selectors else self.path

    # Consumers.

    def add_event_handler(self, handler: EventHandler) -> None:
        """Call ``handler`` on every change (and now, with ``on_add``, for cached objects)."""
        self._handlers.append(handler)
        if handler.on_add is not None:
            for obj in list(self.cache.values()):
                self._call(handler.on_add, obj)

    def add_handler(self, handler: Handler) -> None:
        """Call ``handler(event_type, obj)`` on every change."""
        self.add_event_handler(
            EventHandler(
                on_add=lambda obj: handler(ADDED, obj),
                on_update=lambda old, new: handler(MODIFIED, new),
                on_delete=lambda obj: handler(DELETED, obj),
            )
        )

    def add_index(self, name: str, func: IndexFunc) -> None:
        """Maintain an index of :attr:`cache` (see :meth:`ObjectCache.by_index`)."""
        self.cache.add_index(name, func)

    @property
    def has_synced(self) -> bool:
        """Whether the first list is in the cache."""
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        """Return once the first list is in the cache."""
        await self._synced.wait()

    def items(self) -> list[JSONObject]:
        """A snapshot of the cached objects."""
        return list(self.cache.values())

    # The loop.

    async def run(self) -> None:
        """List and watch until cancelled."""
        while True:
            try:
                if not self.resource_version:
                    await self._relist()
                await self._watch()
                self.backoff.reset()  # the stream ended normally (its timeout): resume
                self._recovered()
            except asyncio.CancelledError:
                raise
            except WatchExpiredError:
                log.info("watch %s expired: listing again", self.describe())
                self.resource_version = ""
            except Exception as err:
                delay = self.backoff.next_delay()
                log.warning(
                    "watch %s failed (%s): retrying in %.1fs", self.describe(), _short(err), delay
                )
                if isinstance(err, KubeError) and err.status not in (429, 500, 503, 504):
                    self.resource_version = ""  # e.g. a Forbidden: list again, from scratch
                self._failed(err)
                await asyncio.sleep(delay)

    def _failed(self, err: BaseException) -> None:
        self._failing = True
        if self.on_error is not None:
            self._call(self.on_error, err)

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            if self.on_recovered is not None:
                self._call(self.on_recovered)

    async def _relist(self) -> None:
        items, version = await self._list()
        fresh = {object_key(item): item for item in items}
        for key in [key for key in self.cache if key not in fresh]:
            gone = self.cache.remove(key)
            if gone is not None:
                self._deleted(gone)
        for item in items:
            self._upsert(item)
        self.resource_version = version
        self.lists += 1
        self._synced.set()
        self._recovered()

    async def _list(self) -> tuple[list[JSONObject], str]:
        query: dict[str, str] = {"limit": str(LIST_PAGE)}
        if self.label_selector:
            query["labelSelector"] = self.label_selector
        if self.field_selector:
            query["fieldSelector"] = self.field_selector
        items: list[JSONObject] = []
        while True:
            try:
                page = await self.kube.request("GET", self.path, query=query)
            except WatchExpiredError:  # the continue token expired: list whole
                if "continue" not in query:
                    raise
                query.pop("continue")
                query.pop("limit")
                items.clear()
                continue
            items += [dict(item) for item in page.get("items") or []]
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                return items, str(meta.get("resourceVersion") or "")
            query["continue"] = str(token)

    async def _watch(self) -> None:
        events = self.kube.watch(
            self.path,
            self.resource_version,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            timeout_seconds=self.watch_timeout,
        )
        async for event in events:
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                raise KubeError(
                    int(obj.get("code") or 500),
                    str(obj.get("reason", "")),
                    str(obj.get("message", "")),
                )
            version = _version(obj)
            if kind == DELETED:
                self.cache.remove(object_key(obj))
                self._deleted(obj)
            elif kind in (ADDED, MODIFIED):
                self._upsert(obj)
            if version:
                self.resource_version = version
            self.backoff.reset()
            self._recovered()

    def _upsert(self, obj: JSONObject) -> None:
        old = self.cache.get(object_key(obj))
        if old is not None and _version(old) == _version(obj):
            return  # seen already (a relist of an unchanged object)
        self.cache.upsert(obj)
        for handler in self._handlers:
            if old is None:
                if handler.on_add is not None:
                    self._call(handler.on_add, obj)
            elif handler.on_update is not None:
                self._call(handler.on_update, old, obj)

    def _deleted(self, obj: JSONObject) -> None:
        for handler in self._handlers:
            if handler.on_delete is not None:
                self._call(handler.on_delete, obj)

    def _call(self, func: Callable[..., None], *args: object) -> None:
        try:
            func(*args)
        except Exception:
            log.exception("a handler of informer %s failed", self.describe())


class Informers:
    """Shared informers of one client: one per (collection, selectors), however many
    consumers ask for it (client-go's ``SharedInformerFactory``).

    ``get`` the informers, register handlers, then :meth:`start` (or ``async with``);
    :meth:`wait_synced` waits for every first list.
    """

    def __init__(self, kube: Kube, **options: Any) -> None:
        self.kube = kube
        self.options = options
        self._informers: dict[tuple[str, str | None, str | None], Informer] = {}
        self._tasks: dict[Informer, asyncio.Task[None]] = {}

    def get(
        self, path: str, *, label_selector: str | None = None, field_selector: str | None = None
    ) -> Informer:
        """The informer of ``path`` with these selectors (made on first request)."""
        key = (path, label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = self._informers[key] = Informer(
                self.kube,
                path,
                label_selector=label_selector,
                field_selector=field_selector,
                **self.options,
            )
        return informer

    def __iter__(self) -> Iterator[Informer]:
        return iter(list(self._informers.values()))

    def start(self) -> None:
        """Run every informer not running yet (as tasks of the running loop)."""
        for informer in self._informers.values():
            if informer not in self._tasks:
                self._tasks[informer] = asyncio.get_running_loop().create_task(
                    informer.run(), name=f"informer {informer.describe()}"
                )

    async def wait_synced(self) -> None:
        """Return once every informer has its first list."""
        await asyncio.gather(*(i.wait_synced() for i in self._informers.values()))

    async def stop(self) -> None:
        """Stop every informer."""
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Informers:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split())[:200]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
