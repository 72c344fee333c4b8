"""The shape of every controller: informers → work queue → ``reconcile(key)``.

Handlers only queue keys; workers take one key at a time (never the same key in two
workers), read the state back from the informers' caches or the API, and converge it.
A reconcile that raises is retried after the key's back-off; one that returns a number
is queued again after that many seconds (controller-runtime's ``RequeueAfter``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from liqo_core.kube.backoff import ItemBackoff
from liqo_core.kube.informer import EventHandler, Informer
from liqo_core.kube.objectcache import JSONObject, object_key
from liqo_core.kube.rest import describe_error
from liqo_core.kube.workqueue import QueueShutDown, WorkQueue

log = logging.getLogger(__name__)

Reconcile = Callable[[str], Awaitable[float | None]]
"""Converge one key; may return seconds after which to look again."""
KeyFunc = Callable[[JSONObject], Iterable[str] | str | None]
"""The keys to reconcile when an object changes (e.g. its owner's)."""


class Controller:
    """Works ``queue`` with ``workers`` concurrent calls of ``reconcile``."""

    def __init__(
        self,
        name: str,
        reconcile: Reconcile,
        *,
        workers: int = 1,
        queue: WorkQueue | None = None,
        backoff: ItemBackoff | None = None,
    ) -> None:
        self.name = name
        self.reconcile = reconcile
        self.workers = workers
        self.queue = queue if queue is not None else WorkQueue(backoff)
        self._informers: list[Informer] = []

    def watch(self, informer: Informer, keys: KeyFunc = object_key) -> None:
        """Queue ``keys(obj)`` for every change ``informer`` sees (default: the object's
        own key); the controller starts once ``informer`` has synced."""

        def enqueue(obj: JSONObject) -> None:
            found = keys(obj)
            for key in [found] if isinstance(found, str) else found or ():
                self.queue.add(key)

        informer.add_event_handler(
            EventHandler(on_add=enqueue, on_update=lambda old, new: enqueue(new), on_delete=enqueue)
        )
        self.needs(informer)

    def needs(self, *informers: Informer) -> None:
        """Start only once ``informers`` (caches the reconcile reads) have synced."""
        self._informers += [i for i in informers if i not in self._informers]

    async def run(self, before: Callable[[], None] | None = None) -> None:
        """Wait for the informers' first lists, call ``before``, then work until cancelled
        (or until the queue is shut down and drained)."""
        await asyncio.gather(*(informer.wait_synced() for informer in self._informers))
        if before is not None:
            before()
        await asyncio.gather(*(self._worker() for _ in range(self.workers)))

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            try:
                await self.process(key)
            finally:
                self.queue.done(key)

    async def process(self, key: str) -> None:
        """Reconcile ``key`` once, then forget or back off (the queue's ``done`` is the
        caller's)."""
        try:
            again = await self.reconcile(key)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self.queue.add_rate_limited(key)
            log.warning(
                "%s: reconcile %s failed (%d): %s",
                self.name,
                key,
                self.queue.retries(key),
                describe_error(err),
            )
            return
        self.queue.forget(key)
        if again is not None:
            self.queue.add_after(key, again)
