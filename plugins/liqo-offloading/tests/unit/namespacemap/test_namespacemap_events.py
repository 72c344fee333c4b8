"""Events are aggregated: a repeated failure bumps the count of one Event."""

from __future__ import annotations

import asyncio
from typing import Any

from liqo_offloading.namespacemap.events import AGGREGATION_WINDOW, EventRecorder

from liqo_core.kube import KubeError

NM = {"metadata": {"name": "p", "namespace": "tenant", "uid": "u1", "resourceVersion": "7"}}


class FakeKube:
    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.fail: int | None = None

    async def request(self, method: str, path: str, body: Any = None, **_: Any) -> dict[str, Any]:
        assert (method, path) == ("POST", "/api/v1/namespaces/tenant/events")
        if self.fail is not None:
            raise KubeError(self.fail, "Forbidden", "no")
        self.events[body["metadata"]["name"]] = dict(body)
        return body  # type: ignore[no-any-return]

    async def merge_patch(self, path: str, patch: dict[str, Any]) -> dict[str, Any]:
        name = path.rpartition("/")[2]
        if name not in self.events:
            raise KubeError(404, "NotFound", "gone")
        self.events[name].update(patch)
        return self.events[name]


def record(recorder: EventRecorder, message: str = "blocked") -> None:
    asyncio.run(
        recorder.warning(NM, "CreationLoopBackOff", message, kind="NamespaceMap", api_version="v")
    )


def test_the_same_event_is_counted_not_posted_again() -> None:
    kube, now = FakeKube(), [0.0]
    recorder = EventRecorder(kube, clock=lambda: now[0])  # type: ignore[arg-type]
    record(recorder)
    record(recorder)
    record(recorder)
    [event] = kube.events.values()
    assert event["count"] == 3
    assert event["type"] == "Warning" and event["reason"] == "CreationLoopBackOff"
    assert event["involvedObject"] == {
        "apiVersion": "v", "kind": "NamespaceMap", "name": "p", "namespace": "tenant",
        "uid": "u1", "resourceVersion": "7",
    }  # fmt: skip
    record(recorder, "another message")
    assert len(kube.events) == 2
    now[0] = AGGREGATION_WINDOW + 1  # past the window: a new Event
    record(recorder)
    assert len(kube.events) == 3


def test_an_event_deleted_meanwhile_is_posted_again() -> None:
    kube = FakeKube()
    recorder = EventRecorder(kube)  # type: ignore[arg-type]
    record(recorder)
    kube.events.clear()
    record(recorder)
    [event] = kube.events.values()
    assert event["count"] == 1


def test_a_failed_post_is_only_logged() -> None:
    kube = FakeKube()
    kube.fail = 403
    record(EventRecorder(kube))  # type: ignore[arg-type]
    assert kube.events == {}
