"""The work queue and the controller loop: de-duplication, one worker per key, delays
and per-key back-off."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

import pytest

from liqo_core.kube import Backoff, Controller, ItemBackoff, QueueShutDown, WorkQueue


async def test_a_key_added_many_times_is_handed_out_once() -> None:
    queue = WorkQueue()
    for key in ("a", "b", "a", "a", "b"):
        queue.add(key)
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]
    assert len(queue) == 0


async def test_a_key_added_while_processing_waits_for_done_then_comes_once() -> None:
    queue = WorkQueue()
    queue.add("a")
    key = await queue.get()
    queue.add("a")
    queue.add("a")
    assert len(queue) == 0 and queue.processing == {"a"}  # not handed to another worker
    queue.done(key)
    assert len(queue) == 1
    assert await queue.get() == "a"
    queue.done("a")
    assert len(queue) == 0


async def test_workers_never_reconcile_one_key_concurrently() -> None:
    running: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    overlap: list[str] = []
    release = asyncio.Event()

    async def reconcile(key: str) -> None:
        running[key] += 1
        calls[key] += 1
        if running[key] > 1:
            overlap.append(key)
        if calls[key] == 1:
            await release.wait()
        running[key] -= 1

    controller = Controller("test", reconcile, workers=4)
    task = asyncio.create_task(controller.run())
    try:
        controller.queue.add("a")
        controller.queue.add("b")
        async with asyncio.timeout(5):
            while calls["a"] < 1 or calls["b"] < 1:  # noqa: ASYNC110 - the workers' state
                await asyncio.sleep(0.01)
        for _ in range(5):
            controller.queue.add("a")  # while a is being reconciled
        release.set()
        async with asyncio.timeout(5):
            while calls["a"] < 2:  # noqa: ASYNC110 - the workers' state
                await asyncio.sleep(0.01)
        controller.queue.shut_down()
        await asyncio.wait_for(task, 5)
    finally:
        task.cancel()
    assert overlap == []
    assert calls == {"a": 2, "b": 1}


async def test_add_after_keeps_the_earliest_delay() -> None:
    queue = WorkQueue()
    loop = asyncio.get_running_loop()
    start = loop.time()
    queue.add_after("a", 30)
    queue.add_after("a", 0.05)
    queue.add_after("a", 10)
    assert len(queue) == 0
    assert await asyncio.wait_for(queue.get(), 5) == "a"
    assert 0.04 <= loop.time() - start < 5
    queue.done("a")
    queue.shut_down()  # the later timers were dropped: nothing else is queued
    with pytest.raises(QueueShutDown):
        await asyncio.wait_for(queue.get(), 1)


def test_item_backoff_doubles_per_key_up_to_its_cap_and_forgets() -> None:
    backoff = ItemBackoff(base=0.01, cap=0.05)
    assert [backoff.when("a") for _ in range(5)] == [0.01, 0.02, 0.04, 0.05, 0.05]
    assert backoff.when("b") == 0.01  # per key
    assert backoff.retries("a") == 5
    backoff.forget("a")
    assert backoff.retries("a") == 0 and backoff.when("a") == 0.01


def test_loop_backoff_doubles_jitters_and_resets() -> None:
    backoff = Backoff(initial=1, cap=4)
    assert [backoff.next_delay() for _ in range(4)] == [1, 2, 4, 4]
    backoff.reset()
    assert backoff.next_delay() == 1
    jittered = Backoff(initial=1, cap=4, jitter=0.5)
    assert 1 <= jittered.next_delay() <= 1.5
    assert 2 <= jittered.next_delay() <= 3


async def test_failures_retry_with_growing_delays_and_success_forgets() -> None:
    loop = asyncio.get_running_loop()
    attempts: list[float] = []
    done = asyncio.Event()

    async def reconcile(key: str) -> float | None:
        attempts.append(loop.time())
        if len(attempts) <= 3:
            raise RuntimeError("not yet")
        done.set()
        return None

    controller = Controller("test", reconcile, backoff=ItemBackoff(base=0.05, cap=1))
    task = asyncio.create_task(controller.run())
    try:
        controller.queue.add("k")
        await asyncio.wait_for(done.wait(), 5)
        assert controller.queue.retries("k") == 0  # forgotten after the success
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert len(gaps) == 3
    assert gaps[0] >= 0.045 and gaps[1] >= 0.095 and gaps[2] >= 0.195


async def test_a_reconcile_returning_seconds_is_queued_again_after_them() -> None:
    calls: list[str] = []
    again = asyncio.Event()

    async def reconcile(key: str) -> float | None:
        calls.append(key)
        if len(calls) == 2:
            again.set()
        return 0.05 if len(calls) == 1 else None

    controller = Controller("test", reconcile)
    task = asyncio.create_task(controller.run())
    try:
        controller.queue.add("k")
        await asyncio.wait_for(again.wait(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert calls == ["k", "k"]


async def test_a_controller_works_the_queue_it_is_given() -> None:
    queue = WorkQueue()  # empty (so falsy): still the one to work
    seen = asyncio.Event()

    async def reconcile(key: str) -> None:
        seen.set()

    controller = Controller("test", reconcile, queue=queue)
    assert controller.queue is queue
    task = asyncio.create_task(controller.run())
    try:
        queue.add("k")
        await asyncio.wait_for(seen.wait(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
