"""Deletion: finalizers, propagation policies, ownerReference GC, namespace termination."""

from __future__ import annotations

import secrets

import pytest
from contract_helpers import UNSERVED_SCHEDULER, absent, raw, status_of, wait_for
from kubernetes import client

pytestmark = pytest.mark.contract


@pytest.fixture
def core(kube_cluster):
    return client.CoreV1Api(kube_cluster.api_client())


def _cm(name, finalizers=None, owners=None):
    meta = {"name": name}
    if finalizers:
        meta["finalizers"] = finalizers
    if owners:
        meta["ownerReferences"] = owners
    return {"metadata": meta, "data": {}}


def _owner_ref(obj, block=False):
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": obj.metadata.name,
        "uid": obj.metadata.uid,
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def _gone(core, ns, name):
    return absent(lambda: core.read_namespaced_config_map(name, ns))


def test_finalizer_keeps_object_terminating_until_removed(core, namespace):
    core.create_namespaced_config_map(namespace, _cm("fin", ["example.com/hold"]))
    core.delete_namespaced_config_map("fin", namespace)
    held = core.read_namespaced_config_map("fin", namespace)
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("fin", namespace, {"metadata": {"finalizers": None}})
    wait_for(lambda: _gone(core, namespace, "fin"))


def test_no_new_finalizers_while_terminating(core, namespace):
    core.create_namespaced_config_map(namespace, _cm("fin2", ["example.com/a"]))
    core.delete_namespaced_config_map("fin2", namespace)
    with pytest.raises(client.ApiException) as err:
        core.patch_namespaced_config_map(
            "fin2", namespace, {"metadata": {"finalizers": ["example.com/a", "example.com/b"]}}
        )
    assert err.value.status == 422
    assert status_of(err.value)["details"]["causes"][0]["field"] == "metadata.finalizers"
    core.patch_namespaced_config_map("fin2", namespace, {"metadata": {"finalizers": None}})


def test_background_deletion_collects_dependents(core, namespace):
    owner = core.create_namespaced_config_map(namespace, _cm("owner"))
    core.create_namespaced_config_map(namespace, _cm("dep", owners=[_owner_ref(owner)]))
    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Background")
    wait_for(lambda: _gone(core, namespace, "dep"))


def test_dependent_with_another_live_owner_survives(core, namespace):
    a = core.create_namespaced_config_map(namespace, _cm("own-a"))
    b = core.create_namespaced_config_map(namespace, _cm("own-b"))
    core.create_namespaced_config_map(
        namespace, _cm("shared", owners=[_owner_ref(a), _owner_ref(b)])
    )
    core.delete_namespaced_config_map("own-a", namespace)

    def only_b():
        refs = core.read_namespaced_config_map("shared", namespace).metadata.owner_references
        return [r.name for r in refs or []] == ["own-b"]

    wait_for(only_b)


def test_orphan_deletion_keeps_dependents_without_the_reference(core, namespace):
    owner = core.create_namespaced_config_map(namespace, _cm("o-owner"))
    core.create_namespaced_config_map(namespace, _cm("o-dep", owners=[_owner_ref(owner)]))
    core.delete_namespaced_config_map("o-owner", namespace, propagation_policy="Orphan")
    wait_for(lambda: _gone(core, namespace, "o-owner"))
    dep = core.read_namespaced_config_map("o-dep", namespace)
    assert not dep.metadata.owner_references


def test_foreground_deletion_waits_for_blocking_dependents(core, namespace):
    owner = core.create_namespaced_config_map(namespace, _cm("f-owner"))
    core.create_namespaced_config_map(
        namespace, _cm("f-dep", ["example.com/hold"], owners=[_owner_ref(owner, block=True)])
    )
    core.delete_namespaced_config_map("f-owner", namespace, propagation_policy="Foreground")
    terminating = core.read_namespaced_config_map("f-owner", namespace)
    assert "foregroundDeletion" in terminating.metadata.finalizers
    wait_for(
        lambda: core.read_namespaced_config_map("f-dep", namespace).metadata.deletion_timestamp
    )
    assert core.read_namespaced_config_map("f-owner", namespace).metadata.deletion_timestamp
    core.patch_namespaced_config_map("f-dep", namespace, {"metadata": {"finalizers": None}})
    wait_for(lambda: _gone(core, namespace, "f-dep"))
    wait_for(lambda: _gone(core, namespace, "f-owner"))


def test_dependent_of_missing_owner_is_collected(core, namespace):
    ghost = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "never-existed",
        "uid": "00000000-0000-0000-0000-000000000001",
    }
    core.create_namespaced_config_map(namespace, _cm("orphaned", owners=[ghost]))
    wait_for(lambda: _gone(core, namespace, "orphaned"))


def test_unbound_pod_is_deleted_immediately(core, namespace):
    pod = {
        "metadata": {"name": "free"},
        # Stays unbound on clusters with a scheduler too (a bound pod deletes gracefully).
        "spec": {
            "containers": [{"name": "c", "image": "busybox:1"}],
            "schedulerName": UNSERVED_SCHEDULER,
        },
    }
    core.create_namespaced_pod(namespace, pod)
    core.delete_namespaced_pod("free", namespace)
    wait_for(lambda: absent(lambda: core.read_namespaced_pod("free", namespace)))


def test_namespace_deletion_removes_content_then_namespace(kube_cluster, core):
    name = f"ns-del-{secrets.token_hex(3)}"
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(name, _cm("inside"))
    answer = raw(kube_cluster.api_client(), "DELETE", f"/api/v1/namespaces/{name}")
    assert answer["status"]["phase"] == "Terminating"
    wait_for(lambda: absent(lambda: core.read_namespace(name)), timeout=60)


def test_terminating_namespace_refuses_new_objects(core):
    name = f"ns-term-{secrets.token_hex(3)}"
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(name, _cm("hold", ["example.com/hold"]))
    core.delete_namespace(name)
    try:
        with pytest.raises(client.ApiException) as err:
            core.create_namespaced_config_map(name, _cm("late"))
        assert err.value.status == 403
        assert status_of(err.value)["reason"] == "Forbidden"

        def finalizers_reported():
            conds = core.read_namespace(name).status.conditions or []
            return any(
                c.type == "NamespaceFinalizersRemaining"
                and c.status == "True"
                and "example.com/hold" in c.message
                for c in conds
            )

        wait_for(finalizers_reported, timeout=30)
    finally:
        wait_for(lambda: core.read_namespaced_config_map("hold", name).metadata.deletion_timestamp)
        core.patch_namespaced_config_map("hold", name, {"metadata": {"finalizers": None}})
    wait_for(lambda: absent(lambda: core.read_namespace(name)), timeout=60)


def test_delete_collection_by_label(core, namespace):
    for i in range(3):
        body = _cm(f"c{i}")
        body["metadata"]["labels"] = {"batch": "x" if i < 2 else "y"}
        core.create_namespaced_config_map(namespace, body)
    core.delete_collection_namespaced_config_map(namespace, label_selector="batch=x")
    wait_for(lambda: _gone(core, namespace, "c0") and _gone(core, namespace, "c1"))
    assert core.read_namespaced_config_map("c2", namespace)


def test_bound_pod_deletion_is_graceful_until_confirmed(core, namespace):
    pod = {
        "metadata": {"name": "bound"},
        "spec": {"nodeName": "node-x", "containers": [{"name": "c", "image": "busybox:1"}]},
    }
    core.create_namespaced_pod(namespace, pod)
    core.delete_namespaced_pod("bound", namespace, grace_period_seconds=300)
    terminating = core.read_namespaced_pod("bound", namespace)
    assert terminating.metadata.deletion_timestamp is not None
    assert terminating.metadata.deletion_grace_period_seconds == 300
    core.delete_namespaced_pod("bound", namespace, grace_period_seconds=0)
    wait_for(lambda: absent(lambda: core.read_namespaced_pod("bound", namespace)))


def test_deletion_with_finalizer_bumps_generation(kube_cluster, namespace):
    apps = client.AppsV1Api(kube_cluster.api_client())
    dep = {
        "metadata": {"name": "genfin", "finalizers": ["example.com/hold"]},
        "spec": {
            "selector": {"matchLabels": {"app": "g"}},
            "template": {
                "metadata": {"labels": {"app": "g"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
            },
        },
    }
    apps.create_namespaced_deployment(namespace, dep)
    apps.delete_namespaced_deployment("genfin", namespace)
    held = apps.read_namespaced_deployment("genfin", namespace)
    assert held.metadata.generation == 2
    apps.patch_namespaced_deployment("genfin", namespace, {"metadata": {"finalizers": None}})


def test_owner_in_another_namespace_does_not_count(core, namespace):
    other = f"ns-own-{secrets.token_hex(3)}"
    core.create_namespace({"metadata": {"name": other}})
    try:
        owner = core.create_namespaced_config_map(other, _cm("far-owner"))
        core.create_namespaced_config_map(namespace, _cm("far-dep", owners=[_owner_ref(owner)]))
        wait_for(lambda: _gone(core, namespace, "far-dep"))
    finally:
        core.delete_namespace(other)
