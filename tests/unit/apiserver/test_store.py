"""The store: resourceVersions, event history window, watchers, list snapshots."""

from __future__ import annotations

import pytest

from liqo_core.sandbox.apiserver.store import START_RV, Expired, Store

KEY = ("", "configmaps")


def _obj(name, ns="default", uid=None):
    return {"metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{ns}-{name}"}}


def test_every_commit_gets_a_new_global_resource_version():
    store = Store()
    a = store.commit(KEY, _obj("a"), None)
    b = store.commit(("", "secrets"), _obj("b"), None)
    assert int(b["metadata"]["resourceVersion"]) == int(a["metadata"]["resourceVersion"]) + 1
    assert int(a["metadata"]["resourceVersion"]) == START_RV + 1


def test_list_is_sorted_by_namespace_then_name():
    store = Store()
    for ns, name in (("b", "x"), ("a", "z"), ("a", "y")):
        store.commit(KEY, _obj(name, ns), None)
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in store.list(KEY)] == [
        ("a", "y"),
        ("a", "z"),
        ("b", "x"),
    ]
    assert [o["metadata"]["name"] for o in store.list(KEY, "a")] == ["y", "z"]


def test_delete_removes_object_and_uid_index():
    store = Store()
    obj = store.commit(KEY, _obj("a"), None)
    store.commit(KEY, dict(obj), obj, deleted=True)
    assert store.get(KEY, "default", "a") is None
    assert store.by_uid("uid-default-a") is None
    assert store.count(KEY) == 0


async def test_watch_since_replays_retained_events_in_order():
    store = Store()
    first = store.commit(KEY, _obj("a"), None)
    since = int(first["metadata"]["resourceVersion"])
    second = store.commit(KEY, dict(first), first)
    store.commit(KEY, dict(second), second, deleted=True)
    watcher = store.watch(KEY, None, since)
    types = [watcher.queue.get_nowait().type for _ in range(2)]
    assert types == ["MODIFIED", "DELETED"]
    assert watcher.queue.empty()


async def test_watch_from_before_the_window_is_expired():
    store = Store(history_size=3)
    obj = store.commit(KEY, _obj("a"), None)
    since = int(obj["metadata"]["resourceVersion"])
    for _ in range(5):
        obj = store.commit(KEY, dict(obj), obj)
    with pytest.raises(Expired):
        store.watch(KEY, None, since)
    recent = int(obj["metadata"]["resourceVersion"]) - 2
    assert store.watch(KEY, None, recent).queue.qsize() == 2


async def test_watch_from_before_server_start_is_expired():
    store = Store()
    with pytest.raises(Expired):
        store.watch(KEY, None, 1)


async def test_watch_of_a_resource_never_written_accepts_any_recent_version():
    store = Store()
    store.commit(("", "secrets"), _obj("s"), None)
    watcher = store.watch(("example.com", "widgets"), None, START_RV)
    assert watcher.queue.empty()


async def test_namespaced_watcher_ignores_other_namespaces():
    store = Store()
    watcher = store.watch(KEY, "mine", None)
    store.commit(KEY, _obj("a", "other"), None)
    store.commit(KEY, _obj("b", "mine"), None)
    assert watcher.queue.qsize() == 1
    assert watcher.queue.get_nowait().obj["metadata"]["name"] == "b"


async def test_unwatch_stops_delivery():
    store = Store()
    watcher = store.watch(KEY, None, None)
    store.unwatch(watcher)
    store.commit(KEY, _obj("a"), None)
    assert watcher.queue.empty()


def test_listeners_see_every_commit_with_old_state():
    store = Store()
    seen = []
    store.add_listener(lambda key, ev: seen.append((key, ev.type, ev.old is None)))
    obj = store.commit(KEY, _obj("a"), None)
    store.commit(KEY, dict(obj), obj)
    assert seen == [(KEY, "ADDED", True), (KEY, "MODIFIED", False)]


def test_snapshots_are_bounded():
    store = Store(snapshots=2)
    for token in ("t1", "t2", "t3"):
        store.save_snapshot(token, [])
    assert store.snapshot("t1") is None
    assert store.snapshot("t3") == []


async def test_dropping_a_resource_closes_its_watchers():
    store = Store()
    key = ("example.com", "widgets")
    store.commit(key, _obj("w"), None)
    watcher = store.watch(key, None, None)
    store.drop(key)
    assert watcher.queue.get_nowait().type == "CLOSED"
    assert store.get(key, "default", "w") is None
