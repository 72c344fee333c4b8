"""The informer against the faults a real API server shows: an expired watch (410 Gone),
a dropped connection and a restart. Every change must reach the handlers exactly once
and the cache must end equal to the server's state; failures and the recovery reach the
owner's callbacks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from kube_fakeapi import PATH, FakeAPI

from liqo_core.kube import Backoff, Informer, KubeError

Seen = list[tuple[str, str, str]]


@pytest.fixture
async def api() -> AsyncIterator[FakeAPI]:
    fake = FakeAPI()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def until(condition: Callable[[], Any], what: str, limit: float = 10.0) -> None:
    """Wait (at most ``limit`` seconds) until ``condition()``, which other tasks make true."""
    try:
        async with asyncio.timeout(limit):
            while not condition():  # noqa: ASYNC110 - the state belongs to the informer's task
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


class Watched:
    """An informer of the fake collection, its events and its task."""

    def __init__(self, api: FakeAPI) -> None:
        self.kube = api.client()
        self.informer = Informer(
            self.kube, PATH, backoff=Backoff(initial=0.02, cap=0.1), watch_timeout=60
        )
        self.seen: Seen = []
        self.informer.add_handler(
            lambda kind, obj: self.seen.append(
                (kind, obj["metadata"]["name"], obj["metadata"]["resourceVersion"])
            )
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watched:
        self.task = asyncio.create_task(self.informer.run())
        await asyncio.wait_for(self.informer.wait_synced(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.kube.close()

    def cache_state(self) -> dict[str, str]:
        return {key: obj["data"]["value"] for key, obj in self.informer.cache.items()}


def server_state(api: FakeAPI) -> dict[str, str]:
    return {f"ns/{name}": obj["data"]["value"] for name, obj in api.objects.items()}


async def test_an_expired_watch_relists_and_reports_each_missed_change_once(
    api: FakeAPI,
) -> None:
    api.put("kept", "1")
    api.put("changed", "1")
    api.put("removed", "1")
    async with Watched(api) as w:
        assert sorted(w.seen) == sorted(
            [("ADDED", n, api.objects[n]["metadata"]["resourceVersion"]) for n in api.objects]
        )
        w.seen.clear()
        await api.stop()  # the watch breaks; changes happen meanwhile, then compaction
        api.put("changed", "2")
        api.delete("removed")
        api.put("added", "1")
        api.compact()
        await api.start()
        await until(lambda: w.informer.lists == 2, "a relist")
        await until(lambda: len(w.seen) == 3, "the missed changes")
        assert sorted((kind, name) for kind, name, _ in w.seen) == [
            ("ADDED", "added"),
            ("DELETED", "removed"),
            ("MODIFIED", "changed"),
        ]
        assert w.cache_state() == server_state(api)
        # The relisted watch goes on from the list's version: later changes arrive once.
        api.put("later", "1")
        await until(lambda: ("ADDED", "later") in [(k, n) for k, n, _ in w.seen], "later")
        assert len(w.seen) == 4
        assert w.cache_state() == server_state(api)


@pytest.mark.parametrize("as_status", [False, True], ids=["error-event", "http-410"])
async def test_410_as_an_event_or_as_the_answer_both_relist(api: FakeAPI, as_status: bool) -> None:
    api.expired_as_status = as_status
    api.put("a", "1")
    async with Watched(api) as w:
        await until(lambda: len(api.watches) == 1, "the watch")
        api.drop_watches()  # (no await until compacted: the informer cannot resume meanwhile)
        api.put("a", "2")
        api.compact()
        await until(lambda: w.informer.lists == 2, "a relist")
        await until(lambda: len(w.seen) == 2, "the update")
        assert [(kind, name) for kind, name, _ in w.seen] == [("ADDED", "a"), ("MODIFIED", "a")]
        floor = api.floor
        api.put("a", "3")
        await until(lambda: len(w.seen) == 3, "a later update")
        assert int(api.watches[1]["resourceVersion"]) < floor  # answered 410
        assert int(api.watches[-1]["resourceVersion"]) >= floor  # from the relist
        assert w.cache_state() == server_state(api)


async def test_a_dropped_connection_resumes_from_the_last_version(api: FakeAPI) -> None:
    api.put("a", "1")
    async with Watched(api) as w:
        api.put("b", "1")
        await until(lambda: len(w.seen) == 2, "b")
        last = api.objects["b"]["metadata"]["resourceVersion"]
        api.drop_watches()
        api.put("c", "1")
        await until(lambda: len(w.seen) == 3, "c")
        assert api.lists == 1 and w.informer.lists == 1  # resumed, not relisted
        assert api.watches[-1]["resourceVersion"] == last
        assert [name for _, name, _ in w.seen] == ["a", "b", "c"]
        assert w.cache_state() == server_state(api)


async def test_a_server_restart_resumes_without_a_relist(api: FakeAPI) -> None:
    api.put("a", "1")
    async with Watched(api) as w:
        await until(lambda: len(api.watches) == 1, "the watch")
        await api.stop()
        api.put("a", "2")
        api.delete("a")
        api.put("b", "1")
        await api.start()
        await until(lambda: len(w.seen) == 4, "the changes made while down")
        assert [(kind, name) for kind, name, _ in w.seen] == [
            ("ADDED", "a"),
            ("MODIFIED", "a"),
            ("DELETED", "a"),
            ("ADDED", "b"),
        ]
        assert api.lists == 1
        assert w.cache_state() == server_state(api)


async def test_bookmarks_move_the_resume_point(api: FakeAPI) -> None:
    api.put("a", "1")
    async with Watched(api) as w:
        await until(lambda: bool(api.watches), "the watch")
        assert api.watches[0]["allowWatchBookmarks"] == "true"
        api.bookmark()
        mark = str(api.rv)
        await until(lambda: w.informer.resource_version == mark, "the bookmark")
        api.drop_watches()
        await until(lambda: len(api.watches) == 2, "the resumed watch")
        assert api.watches[1]["resourceVersion"] == mark
        assert len(w.seen) == 1  # a bookmark is no change


async def test_failures_and_the_recovery_reach_the_callbacks(api: FakeAPI) -> None:
    api.put("a", "1")
    errors: list[BaseException] = []
    recoveries: list[int] = []  # how many failures each recovery ended
    kube = api.client()
    informer = Informer(
        kube,
        PATH,
        backoff=Backoff(initial=0.02, cap=0.1),
        watch_timeout=60,
        on_error=errors.append,
        on_recovered=lambda: recoveries.append(len(errors)),
    )
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 10)
        await until(lambda: len(api.watches) == 1, "the watch")
        assert (errors, recoveries) == ([], [])  # no failure, nothing recovered
        await api.stop()
        await until(lambda: len(errors) >= 2, "failed reconnections")
        assert all(isinstance(err, aiohttp.ClientError) for err in errors)
        assert recoveries == []
        api.put("a", "2")
        await api.start()
        await until(lambda: bool(recoveries), "the recovery")
        assert recoveries == [len(errors)]
        api.put("a", "3")
        await until(lambda: informer.cache["ns/a"]["data"]["value"] == "3", "a later change")
        assert recoveries == [len(errors)]  # once per outage
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await kube.close()


async def test_an_api_error_reaches_the_callback_and_a_failing_callback_is_logged(
    api: FakeAPI, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[BaseException] = []

    def broken(err: BaseException) -> None:
        seen.append(err)
        raise RuntimeError("a bug in the callback")

    kube = api.client()
    unknown = "/api/v1/namespaces/ns/secrets"  # the fake serves ConfigMaps only: 404
    informer = Informer(kube, unknown, backoff=Backoff(initial=0.02, cap=0.1), on_error=broken)
    task = asyncio.create_task(informer.run())
    try:
        await until(lambda: len(seen) >= 2, "retries despite the failing callback")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await kube.close()
    assert all(isinstance(err, KubeError) and err.status == 404 for err in seen)
    assert "a handler of informer" in caplog.text
