"""Shared API clients: one per (event loop, target), renewed after a time-to-live.

Building a client parses the kubeconfig, builds an SSL context and opens TLS connections;
handlers that did it per call spent a third of the controller-manager's CPU on it. A
cached client is handed out to every caller for ``ttl`` seconds, then replaced by a fresh
one (so rotated credentials and certificates are picked up); a client that got a 401 is
replaced at once. A replaced client is closed when its last user releases it; an idle one
when its time is up, or by :func:`close_clients` (e.g. when the operator stops).

::

    async with kube_client(target) as kube:
        await kube.get("/api/v1/namespaces/default")
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from liqo_core.kube.client import KubeTarget
from liqo_core.kube.rest import Kube, api_status

log = logging.getLogger(__name__)

#: Seconds a cached client is handed out before a fresh one replaces it.
DEFAULT_TTL = 60.0

ClientFactory = Callable[[KubeTarget], Awaitable[Kube]]


async def _from_target(target: KubeTarget) -> Kube:
    return await Kube.from_target(target)


@dataclass
class _Entry:
    target: KubeTarget
    kube: Kube
    born: float
    users: int = 0
    retired: bool = False


@dataclass
class ClientCache:
    """Clients by target for one event loop (use :func:`kube_client` rather than this).

    ``factory`` builds a client (default :meth:`Kube.from_target`); ``clock`` gives the
    time in seconds (default :func:`time.monotonic`).
    """

    ttl: float = DEFAULT_TTL
    factory: ClientFactory = _from_target
    clock: Callable[[], float] = time.monotonic
    _entries: dict[KubeTarget, _Entry] = field(default_factory=dict)
    _building: dict[KubeTarget, asyncio.Future[_Entry]] = field(default_factory=dict)
    _retired: list[_Entry] = field(default_factory=list)
    _closing: set[asyncio.Task[None]] = field(default_factory=set)
    _sweeper: asyncio.TimerHandle | None = None

    def client(self, target: KubeTarget) -> AbstractAsyncContextManager[Kube]:
        """The shared client for ``target`` for the duration of an ``async with``."""
        return self._use(target)

    @asynccontextmanager
    async def _use(self, target: KubeTarget) -> AsyncIterator[Kube]:
        entry = await self._acquire(target)
        try:
            yield entry.kube
        except BaseException as exc:
            if api_status(exc) == 401:
                entry.kube.unauthorized = True
            raise
        finally:
            self._release(entry)

    def __len__(self) -> int:
        """How many clients are open (cached or retired but still in use)."""
        return len(self._entries) + len(self._retired)

    async def _acquire(self, target: KubeTarget) -> _Entry:
        self._sweep()
        while True:
            entry = self._entries.get(target)
            if entry is not None and not self._fresh(entry):
                self._retire(entry)
                entry = None
            if entry is None:
                entry = await self._build(target)
            if not entry.retired:  # (it could have been retired while we waited)
                entry.users += 1
                return entry

    async def _build(self, target: KubeTarget) -> _Entry:
        while (pending := self._building.get(target)) is not None:
            try:  # another caller is building it: share its result
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # we were cancelled, not the builder
        future: asyncio.Future[_Entry] = asyncio.get_running_loop().create_future()
        self._building[target] = future
        try:
            kube = await self.factory(target)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: only the waiters re-raise it
            raise
        finally:
            self._building.pop(target, None)
        entry = _Entry(target, kube, self.clock())
        self._entries[target] = entry
        future.set_result(entry)
        return entry

    def _fresh(self, entry: _Entry) -> bool:
        return not entry.kube.unauthorized and self.clock() - entry.born < self.ttl

    def _retire(self, entry: _Entry) -> None:
        if self._entries.get(entry.target) is entry:
            del self._entries[entry.target]
        entry.retired = True
        if entry.kube.unauthorized:
            log.info("API client for %s got 401: dropped", entry.target.describe())
        if entry.users:
            self._retired.append(entry)
        else:
            self._close_later(entry)

    def _release(self, entry: _Entry) -> None:
        entry.users -= 1
        if entry.retired:
            if not entry.users and entry in self._retired:
                self._retired.remove(entry)
                self._close_later(entry)
            return
        if entry.kube.unauthorized:
            self._retire(entry)
            return
        if not entry.users:
            self._schedule_sweep(entry)

    def _sweep(self) -> None:
        """Retire every idle client whose time is up."""
        for entry in list(self._entries.values()):
            if not entry.users and not self._fresh(entry):
                self._retire(entry)

    def _schedule_sweep(self, entry: _Entry) -> None:
        if self._sweeper is not None:
            return
        delay = max(entry.born + self.ttl - self.clock(), 0.0)

        def sweep() -> None:
            self._sweeper = None
            self._sweep()
            idle = [e for e in self._entries.values() if not e.users]
            if idle:
                self._schedule_sweep(min(idle, key=lambda e: e.born))

        self._sweeper = asyncio.get_running_loop().call_later(delay, sweep)

    def _close_later(self, entry: _Entry) -> None:
        task = asyncio.get_running_loop().create_task(entry.kube.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def settle(self) -> None:
        """Wait until the replaced clients being closed are closed."""
        await asyncio.gather(*self._closing, return_exceptions=True)

    async def close(self) -> None:
        """Close every client (in use or not) and forget them."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        entries = [*self._entries.values(), *self._retired]
        self._entries.clear()
        self._retired.clear()
        for entry in entries:
            entry.retired = True
        results = await asyncio.gather(
            *(entry.kube.close() for entry in entries), *self._closing, return_exceptions=True
        )
        for result in results:
            if isinstance(result, Exception):
                log.warning("closing an API client failed: %r", result)


_caches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ClientCache] = (
    weakref.WeakKeyDictionary()
)


def loop_cache() -> ClientCache:
    """The running event loop's client cache (created on first use)."""
    loop = asyncio.get_running_loop()
    cache = _caches.get(loop)
    if cache is None:
        cache = _caches[loop] = ClientCache()
    return cache


def kube_client(target: KubeTarget) -> AbstractAsyncContextManager[Kube]:
    """The running loop's shared :class:`Kube` for ``target``, for an ``async with``.

    Do not close it: it is closed when replaced (after :data:`DEFAULT_TTL` seconds, or on a
    401) and no longer used, or by :func:`close_clients`.
    """
    return _shared(target)


@asynccontextmanager
async def _shared(target: KubeTarget) -> AsyncIterator[Kube]:
    async with loop_cache().client(target) as kube:
        yield kube


async def close_clients() -> None:
    """Close every cached client of the running event loop."""
    cache = _caches.pop(asyncio.get_running_loop(), None)
    if cache is not None:
        await cache.close()
