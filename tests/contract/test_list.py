"""List: selectors, pagination with consistent snapshots, list resourceVersion."""

from __future__ import annotations

import pytest
from contract_helpers import UNSERVED_SCHEDULER, status_of
from kubernetes import client

pytestmark = pytest.mark.contract


@pytest.fixture
def core(kube_cluster):
    return client.CoreV1Api(kube_cluster.api_client())


def _make(core, ns, name, **labels):
    body = {"metadata": {"name": name, "labels": labels}, "data": {}}
    return core.create_namespaced_config_map(ns, body)


def _names(lst):
    return [i.metadata.name for i in lst.items]


def test_label_selector_equality_and_set(core, namespace):
    _make(core, namespace, "a", tier="web", env="prod")
    _make(core, namespace, "b", tier="db", env="prod")
    _make(core, namespace, "c", tier="web", env="dev")
    web = core.list_namespaced_config_map(namespace, label_selector="tier=web")
    assert sorted(_names(web)) == ["a", "c"]
    prod_not_db = core.list_namespaced_config_map(
        namespace, label_selector="env in (prod),tier!=db"
    )
    assert _names(prod_not_db) == ["a"]
    no_env = core.list_namespaced_config_map(namespace, label_selector="!env")
    assert "a" not in _names(no_env)


def test_field_selector_metadata_name(core, namespace):
    _make(core, namespace, "one")
    _make(core, namespace, "two")
    found = core.list_namespaced_config_map(namespace, field_selector="metadata.name=two")
    assert _names(found) == ["two"]


def test_pod_field_selector_spec_node_name(core, namespace):
    for name, node in (("p1", "node-a"), ("p2", "node-b")):
        pod = {
            "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox:1"}]},
        }
        core.create_namespaced_pod(namespace, pod)
    found = core.list_namespaced_pod(namespace, field_selector="spec.nodeName=node-b")
    assert _names(found) == ["p2"]


def test_secret_field_selector_type(core, namespace):
    core.create_namespaced_secret(namespace, {"metadata": {"name": "o"}, "type": "Opaque"})
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "t"}, "type": "example.com/token"}
    )
    found = core.list_namespaced_secret(namespace, field_selector="type=example.com/token")
    assert _names(found) == ["t"]


def test_unsupported_field_selector_is_400(core, namespace):
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_config_map(namespace, field_selector="data.x=1")
    assert err.value.status == 400
    assert "field label not supported" in status_of(err.value)["message"]


def test_invalid_label_selector_is_400(core, namespace):
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_config_map(namespace, label_selector="a in (")
    assert err.value.status == 400


def test_limit_and_continue_page_through_everything_once(core, namespace):
    for i in range(7):
        _make(core, namespace, f"item-{i}", page="yes")
    seen = []
    first = core.list_namespaced_config_map(namespace, limit=3, label_selector="page=yes")
    assert len(first.items) == 3
    assert first.metadata._continue
    seen += _names(first)
    token = first.metadata._continue
    while token:
        page = core.list_namespaced_config_map(
            namespace, limit=3, _continue=token, label_selector="page=yes"
        )
        seen += _names(page)
        token = page.metadata._continue
    assert sorted(seen) == [f"item-{i}" for i in range(7)]


def test_continue_serves_a_consistent_snapshot(core, namespace):
    for i in range(4):
        _make(core, namespace, f"s-{i}", snap="yes")
    first = core.list_namespaced_config_map(namespace, limit=2, label_selector="snap=yes")
    _make(core, namespace, "s-9", snap="yes")
    core.delete_namespaced_config_map("s-3", namespace)
    rest = core.list_namespaced_config_map(
        namespace, limit=10, _continue=first.metadata._continue, label_selector="snap=yes"
    )
    names = _names(first) + _names(rest)
    assert sorted(names) == ["s-0", "s-1", "s-2", "s-3"]
    assert rest.metadata.resource_version == first.metadata.resource_version


def test_list_carries_a_resource_version(core, namespace):
    cm = _make(core, namespace, "rv")
    listed = core.list_namespaced_config_map(namespace)
    assert int(listed.metadata.resource_version) >= int(cm.metadata.resource_version)


def test_list_across_namespaces_sees_objects_of_each(core, namespace):
    _make(core, namespace, "everywhere", mark=namespace)
    found = core.list_config_map_for_all_namespaces(label_selector=f"mark={namespace}")
    assert [(i.metadata.namespace, i.metadata.name) for i in found.items] == [
        (namespace, "everywhere")
    ]


def test_event_field_selectors(core, namespace):
    # Other components may report events about a pod (a scheduler, a kubelet): the pod names
    # a scheduler nobody serves, and the assertions only count this test's own events.
    spec = {"containers": [{"name": "c", "image": "b:1"}], "schedulerName": UNSERVED_SCHEDULER}
    created = core.create_namespaced_pod(namespace, {"metadata": {"name": "ev-pod"}, "spec": spec})
    event = {
        "metadata": {"name": "ev-pod.1"},
        "involvedObject": {
            "kind": "Pod",
            "name": "ev-pod",
            "namespace": namespace,
            "uid": created.metadata.uid,
        },
        "reason": "Tested",
        "message": "hello",
        "type": "Normal",
        "source": {"component": "contract-test"},
    }
    core.create_namespaced_event(namespace, event)
    by_object = core.list_namespaced_event(
        namespace,
        field_selector=f"involvedObject.name=ev-pod,involvedObject.uid={created.metadata.uid}",
    )
    assert "ev-pod.1" in _names(by_object)
    assert {e.involved_object.uid for e in by_object.items} == {created.metadata.uid}
    other = core.list_namespaced_event(namespace, field_selector="involvedObject.name=other")
    assert _names(other) == []
    by_source = core.list_namespaced_event(namespace, field_selector="source=contract-test")
    assert _names(by_source) == ["ev-pod.1"]
    ours = "source=contract-test,type=Warning"
    assert _names(core.list_namespaced_event(namespace, field_selector=ours)) == []
