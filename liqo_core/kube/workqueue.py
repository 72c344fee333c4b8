"""A work queue of keys, as client-go's ``util/workqueue``.

- a key is queued at most once, however often it is added before a worker takes it;
- a key is never handed to two workers at once: added while being processed, it is queued
  again once, when its worker calls :meth:`WorkQueue.done`;
- :meth:`WorkQueue.add_after` queues later (the earliest of several delays wins), and
  :meth:`WorkQueue.add_rate_limited` after the key's own back-off (exponential per failure,
  reset by :meth:`WorkQueue.forget`).
"""

from __future__ import annotations

import asyncio
from collections import deque

from liqo_core.kube.backoff import ItemBackoff


class QueueShutDown(Exception):
    """:meth:`WorkQueue.get` on a queue that was shut down and is empty."""


class WorkQueue:
    """De-duplicating, rate-limited queue of keys (``namespace/name`` strings)."""

    def __init__(self, backoff: ItemBackoff | None = None) -> None:
        self.backoff = backoff or ItemBackoff()
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiting: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        self._nonempty = asyncio.Event()
        self._shutting_down = False

    def __len__(self) -> int:
        """Keys queued (not those being processed or waiting for a delay)."""
        return len(self._queue)

    @property
    def processing(self) -> frozenset[str]:
        """Keys handed to workers and not done yet."""
        return frozenset(self._processing)

    def add(self, key: str) -> None:
        """Queue ``key`` (nothing if it is queued already; once more after its worker is
        done if it is being processed)."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._wake()

    def add_after(self, key: str, delay: float) -> None:
        """Queue ``key`` in ``delay`` seconds (sooner if already due sooner)."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        current = self._waiting.get(key)
        if current is not None:
            if current[0] <= due:
                return
            current[1].cancel()
        self._waiting[key] = (due, loop.call_at(due, self._due, key))

    def _due(self, key: str) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: str) -> None:
        """Queue ``key`` after its back-off (which grows with each call until forgotten)."""
        self.add_after(key, self.backoff.when(key))

    def forget(self, key: str) -> None:
        """``key`` succeeded: reset its back-off (it stays queued if it is)."""
        self.backoff.forget(key)

    def retries(self, key: str) -> int:
        """Failures of ``key`` since it was last forgotten."""
        return self.backoff.retries(key)

    async def get(self) -> str:
        """The next key, marked as being processed: call :meth:`done` with it afterwards.

        :raises QueueShutDown: the queue was shut down and nothing is left.
        """
        while not self._queue:
            if self._shutting_down:
                raise QueueShutDown
            self._nonempty.clear()
            await self._nonempty.wait()
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: str) -> None:
        """The worker of ``key`` finished: queue it again if it was added meanwhile."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake()

    def shut_down(self) -> None:
        """Refuse new keys and delays; :meth:`get` drains what is queued, then raises."""
        self._shutting_down = True
        for _, timer in self._waiting.values():
            timer.cancel()
        self._waiting.clear()
        self._wake()

    def _wake(self) -> None:
        self._nonempty.set()
