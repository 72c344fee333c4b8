"""A level-triggered control loop over InternalAPI watches, shared by the controllers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ..types import InternalAPI, WatchEvent

log = logging.getLogger(__name__)

Controller = Callable[[InternalAPI], Awaitable[None]]
"""A long-running in-process controller."""
Event = tuple[str, WatchEvent] | None
"""(resource, event) from a watch, or None for a full resync."""
Sync = Callable[[Event], Awaitable[None]]


async def control_loop(
    api: InternalAPI,
    name: str,
    watches: Sequence[tuple[str, str]],
    sync: Sync,
    resync: float = 5.0,
) -> None:
    """Call ``sync((resource, event))`` per event of ``watches``, ``sync(None)`` periodically.

    ``sync(None)`` (a full resync) also runs at start and shortly after any failure, so
    the loop converges from the API state whatever it missed. Runs until cancelled.
    """
    queue: asyncio.Queue[Event] = asyncio.Queue()

    async def pump(group: str, resource: str) -> None:
        while True:
            try:
                async for event in api.watch(group, resource):
                    queue.put_nowait((resource, event))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: watch of %s.%s failed", name, resource, group)
            queue.put_nowait(None)
            await asyncio.sleep(1.0)

    async def ticker() -> None:
        while True:
            queue.put_nowait(None)
            await asyncio.sleep(resync)

    tasks = [asyncio.create_task(pump(g, r)) for g, r in watches]
    tasks.append(asyncio.create_task(ticker()))
    try:
        while True:
            event = await queue.get()
            try:
                await sync(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: sync failed; retrying", name)
                loop = asyncio.get_running_loop()
                loop.call_later(0.5, queue.put_nowait, None)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``obj.metadata`` (empty mapping if absent)."""
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}
