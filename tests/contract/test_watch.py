"""Watch: from a resourceVersion, initial events, bookmarks, 410 Gone, selectors."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client, watch

pytestmark = pytest.mark.contract


@pytest.fixture
def core(kube_cluster):
    return client.CoreV1Api(kube_cluster.api_client())


def _cm(name, **labels):
    return {"metadata": {"name": name, "labels": labels}, "data": {}}


def _raw_events(core, namespace, **kwargs):
    """Events of one watch call as (type, object dict), until the server ends it."""
    resp = core.list_namespaced_config_map(namespace, watch=True, _preload_content=False, **kwargs)
    import orjson

    out = []
    for line in resp.stream(decode_content=True):
        for chunk in line.splitlines():
            if chunk.strip():
                ev = orjson.loads(chunk)
                out.append((ev["type"], ev["object"]))
    return out


def test_watch_from_resource_version_sees_later_changes_only(core, namespace):
    core.create_namespaced_config_map(namespace, _cm("before"))
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, _cm("after"))
    core.patch_namespaced_config_map("after", namespace, {"data": {"k": "v"}})
    core.delete_namespaced_config_map("after", namespace)
    events = _raw_events(core, namespace, resource_version=rv, timeout_seconds=2)
    seen = [(t, o["metadata"]["name"]) for t, o in events]
    assert seen == [("ADDED", "after"), ("MODIFIED", "after"), ("DELETED", "after")]


def test_watch_without_resource_version_starts_with_current_state(core, namespace):
    core.create_namespaced_config_map(namespace, _cm("x1", initial="yes"))
    core.create_namespaced_config_map(namespace, _cm("x2", initial="yes"))
    events = _raw_events(core, namespace, timeout_seconds=1, label_selector="initial=yes")
    assert sorted((t, o["metadata"]["name"]) for t, o in events) == [
        ("ADDED", "x1"),
        ("ADDED", "x2"),
    ]


def test_watch_sends_bookmarks_when_allowed(core, namespace):
    core.create_namespaced_config_map(namespace, _cm("b"))
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    events = _raw_events(
        core, namespace, resource_version=rv, timeout_seconds=4, allow_watch_bookmarks=True
    )
    bookmarks = [o for t, o in events if t == "BOOKMARK"]
    assert bookmarks
    assert bookmarks[0]["metadata"]["resourceVersion"]


def test_watch_from_compacted_resource_version_is_410(core, namespace):
    events = _raw_events(core, namespace, resource_version="1", timeout_seconds=5)
    assert events[0][0] == "ERROR"
    assert events[0][1]["code"] == 410
    assert events[0][1]["reason"] in ("Expired", "Gone")


def test_label_selected_watch_sees_deleted_when_labels_stop_matching(core, namespace):
    core.create_namespaced_config_map(namespace, _cm("sel", team="a"))
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.patch_namespaced_config_map("sel", namespace, {"metadata": {"labels": {"team": "b"}}})
    core.patch_namespaced_config_map("sel", namespace, {"metadata": {"labels": {"team": "a"}}})
    events = _raw_events(
        core, namespace, resource_version=rv, timeout_seconds=2, label_selector="team=a"
    )
    assert [t for t, _o in events] == ["DELETED", "ADDED"]


def test_field_selected_watch_filters_by_name(core, namespace):
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, _cm("wanted"))
    core.create_namespaced_config_map(namespace, _cm("other"))
    events = _raw_events(
        core,
        namespace,
        resource_version=rv,
        timeout_seconds=2,
        field_selector="metadata.name=wanted",
    )
    assert [(t, o["metadata"]["name"]) for t, o in events] == [("ADDED", "wanted")]


def test_live_watch_streams_each_event_as_it_happens(core, namespace):
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    w = watch.Watch()
    got = []
    t = threading.Thread(target=core.create_namespaced_config_map, args=(namespace, _cm("live")))
    t.start()
    for ev in w.stream(
        core.list_namespaced_config_map, namespace, resource_version=rv, timeout_seconds=20
    ):
        got.append((ev["type"], ev["object"].metadata.name))
        w.stop()
    t.join()
    assert got == [("ADDED", "live")]


def test_many_concurrent_watchers_all_see_the_event(core, namespace):
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    results = []

    def run():
        results.append(_raw_events(core, namespace, resource_version=rv, timeout_seconds=3))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    core.create_namespaced_config_map(namespace, _cm("fanout"))
    for t in threads:
        t.join()
    assert len(results) == 8
    assert all([(t, o["metadata"]["name"]) for t, o in r] == [("ADDED", "fanout")] for r in results)
