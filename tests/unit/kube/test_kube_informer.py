"""The informer against a cluster: its cache, indexes, handlers, selectors and sharing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from liqo_core.kube import (
    EventHandler,
    Informer,
    Informers,
    Kube,
    KubeTarget,
    by_label,
    object_key,
    split_key,
)
from liqo_core.testing.clusters import ClusterHandle

JSON = dict[str, Any]


@pytest.fixture
async def kube(kube_cluster: ClusterHandle) -> AsyncIterator[Kube]:
    client = await Kube.from_target(
        KubeTarget(kubeconfig=Path(kube_cluster.kubeconfig)), request_timeout=30.0
    )
    try:
        yield client
    finally:
        await client.close()


async def until(condition: Callable[[], Any], what: str, limit: float = 10.0) -> None:
    """Wait (at most ``limit`` seconds) until ``condition()``, which other tasks make true."""
    try:
        async with asyncio.timeout(limit):
            while not condition():  # noqa: ASYNC110 - the state belongs to the informer's task
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def configmap(name: str, **labels: str) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"suite": "kube", **labels}},
        "data": {"k": "v"},
    }


async def test_cache_indexes_and_handlers_follow_the_collection(kube: Kube, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    await kube.create(path, configmap("before", app="web"))
    informers = Informers(kube)
    informer = informers.get(path, label_selector="suite=kube")  # (not kube-root-ca.crt)
    assert informers.get(path, label_selector="suite=kube") is informer  # one per selection
    assert informers.get(path) is not informer
    informer.add_index("app", by_label("app"))
    added: list[str] = []
    updated: list[tuple[str, str]] = []
    deleted: list[str] = []
    informer.add_event_handler(
        EventHandler(
            on_add=lambda obj: added.append(obj["metadata"]["name"]),
            on_update=lambda old, new: updated.append(
                (old["metadata"]["labels"].get("app", ""), new["metadata"]["labels"]["app"])
            ),
            on_delete=lambda obj: deleted.append(obj["metadata"]["name"]),
        )
    )
    async with informers:
        await asyncio.wait_for(informers.wait_synced(), 10)
        assert informer.has_synced
        assert added == ["before"]
        await kube.create(path, configmap("web-2", app="web"))
        await kube.create(path, configmap("db-1", app="db"))
        await until(lambda: len(informer.cache) == 3, "the new objects")
        assert len(informer.cache.by_index("app", "web")) == 2
        assert [o["metadata"]["name"] for o in informer.cache.by_index("app", "db")] == ["db-1"]
        assert informer.cache.index_values("app") == ["db", "web"]
        names = {split_key(key)[1] for key in informer.cache.index_keys("namespace", namespace)}
        assert names == {"before", "web-2", "db-1"}
        await kube.merge_patch(f"{path}/web-2", {"metadata": {"labels": {"app": "db"}}})
        await until(lambda: ("web", "db") in updated, "the relabel")
        assert sorted(o["metadata"]["name"] for o in informer.cache.by_index("app", "db")) == [
            "db-1",
            "web-2",
        ]
        await kube.delete(f"{path}/db-1")
        await until(lambda: "db-1" in deleted, "the deletion")
        assert f"{namespace}/db-1" not in informer.cache
        assert [o["metadata"]["name"] for o in informer.cache.by_index("app", "db")] == ["web-2"]
        # A late handler first hears of every cached object.
        late: list[str] = []
        informer.add_handler(lambda kind, obj: late.append(f"{kind} {object_key(obj)}"))
        assert sorted(late) == sorted(f"ADDED {key}" for key in informer.cache)


async def test_label_selected_informer_sees_objects_leave_the_selection(
    kube: Kube, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    informer = Informer(kube, path, label_selector="tier=front")
    events: list[tuple[str, str]] = []
    informer.add_handler(lambda kind, obj: events.append((kind, obj["metadata"]["name"])))
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 10)
        await kube.create(path, configmap("a", tier="front"))
        await kube.create(path, configmap("b", tier="back"))
        await until(lambda: ("ADDED", "a") in events, "a")
        await kube.merge_patch(f"{path}/a", {"metadata": {"labels": {"tier": "back"}}})
        await until(lambda: ("DELETED", "a") in events, "a leaving the selection")
        assert events == [("ADDED", "a"), ("DELETED", "a")]
        assert len(informer.cache) == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_first_list_is_read_in_pages(
    kube: Kube, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from liqo_core.kube import informer as informer_module

    monkeypatch.setattr(informer_module, "LIST_PAGE", 2)
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for i in range(5):
        await kube.create(path, configmap(f"page-{i}"))
    informer = Informer(kube, path, label_selector="suite=kube")
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 10)
        assert sorted(split_key(key)[1] for key in informer.cache) == [
            f"page-{i}" for i in range(5)
        ]
        await kube.create(path, configmap("after"))  # and the watch starts after the last page
        await until(lambda: f"{namespace}/after" in informer.cache, "the object made after")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
