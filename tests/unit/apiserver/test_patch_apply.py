"""Server-side apply: ownership, conflicts, force, removal, managedFields format."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from liqo_core.sandbox.apiserver.patch import (
    ApplyConflict,
    PatchError,
    apply_server_side,
    update_managed_fields,
)


def _deploy(replicas: int = 2, image: str = "nginx:1", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": labels or {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": image, "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }


def _entry(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    entries = [e for e in obj["metadata"]["managedFields"] if e["manager"] == manager]
    assert len(entries) == 1, obj["metadata"]["managedFields"]
    entry: dict[str, Any] = entries[0]
    return entry


def test_create_by_apply_records_fields_v1() -> None:
    applied = _deploy()
    out = apply_server_side(None, applied, "kubectl", force=False)
    assert out["spec"]["replicas"] == 2
    assert "managedFields" not in applied["metadata"]
    entry = _entry(out, "kubectl")
    assert entry["operation"] == "Apply"
    assert entry["apiVersion"] == "apps/v1"
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["time"].endswith("Z")
    fields = entry["fieldsV1"]
    assert fields["f:metadata"] == {"f:labels": {"f:app": {}}}
    assert "f:apiVersion" not in fields
    spec = fields["f:spec"]
    assert spec["f:replicas"] == {}
    container = spec["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}']
    assert container["."] == {}
    assert container["f:image"] == {}
    assert container["f:ports"]['k:{"containerPort":80,"protocol":"TCP"}'] == {
        ".": {},
        "f:containerPort": {},
    }


def test_reapply_same_is_stable_and_changing_own_fields_is_fine() -> None:
    live = apply_server_side(None, _deploy(), "kubectl", force=False)
    again = apply_server_side(live, _deploy(replicas=5), "kubectl", force=False)
    assert again["spec"]["replicas"] == 5
    assert len(again["metadata"]["managedFields"]) == 1


def test_conflict_with_other_applier_and_force() -> None:
    live = apply_server_side(None, _deploy(), "alice", force=False)
    with pytest.raises(ApplyConflict) as err:
        apply_server_side(live, _deploy(replicas=3), "bob", force=False)
    conflict = err.value
    assert conflict.code == 409
    assert conflict.reason == "Conflict"
    assert conflict.message == (
        'Apply failed with 1 conflict: conflict with "alice": .spec.replicas'
    )
    assert conflict.details == {
        "causes": [
            {
                "type": "FieldManagerConflict",
                "message": 'conflict with "alice"',
                "field": ".spec.replicas",
            }
        ]
    }
    forced = apply_server_side(live, _deploy(replicas=3), "bob", force=True)
    assert forced["spec"]["replicas"] == 3
    alice = _entry(forced, "alice")["fieldsV1"]
    bob = _entry(forced, "bob")["fieldsV1"]
    assert "f:replicas" not in alice["f:spec"]
    assert "f:replicas" in bob["f:spec"]
    # shared fields (same value) stay owned by both
    assert "f:selector" in alice["f:spec"]
    assert "f:selector" in bob["f:spec"]


def test_same_value_is_shared_not_conflicting() -> None:
    live = apply_server_side(None, _deploy(), "alice", force=False)
    out = apply_server_side(live, _deploy(), "bob", force=False)
    assert {e["manager"] for e in out["metadata"]["managedFields"]} == {"alice", "bob"}


def test_several_conflicts_are_listed() -> None:
    live = apply_server_side(None, _deploy(), "alice", force=False)
    with pytest.raises(ApplyConflict) as err:
        apply_server_side(live, _deploy(replicas=9, image="nginx:2"), "bob", force=False)
    assert err.value.message == (
        'Apply failed with 2 conflicts: conflicts with "alice":\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="app"].image'
    )


def test_fields_dropped_from_config_are_removed_unless_owned_elsewhere() -> None:
    live = apply_server_side(None, _deploy(app="web", tier="front"), "alice", force=False)
    out = apply_server_side(live, _deploy(app="web"), "alice", force=False)
    assert out["metadata"]["labels"] == {"app": "web"}

    live = apply_server_side(None, _deploy(app="web", tier="front"), "alice", force=False)
    shared = apply_server_side(live, _deploy(tier="front"), "bob", force=False)
    out = apply_server_side(shared, _deploy(app="web"), "alice", force=False)
    assert out["metadata"]["labels"] == {"app": "web", "tier": "front"}


def test_dropping_a_keyed_item_removes_it() -> None:
    two = _deploy()
    two["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "envoy"})
    live = apply_server_side(None, two, "alice", force=False)
    out = apply_server_side(live, _deploy(), "alice", force=False)
    names = [c["name"] for c in out["spec"]["template"]["spec"]["containers"]]
    assert names == ["app"]


def test_removing_last_label_drops_the_empty_map() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}}
    live = apply_server_side(None, cm, "m", force=False)
    out = apply_server_side(live, {**cm, "metadata": {"name": "c"}}, "m", force=False)
    assert "labels" not in out["metadata"]
    assert "managedFields" not in out["metadata"]


def test_update_takes_ownership_so_reapply_conflicts() -> None:
    live = apply_server_side(None, _deploy(), "kubectl", force=False)
    edited = copy.deepcopy(live)
    edited["spec"]["replicas"] = 7
    update_managed_fields(live, edited, "kubectl-edit", "Update")
    editor = _entry(edited, "kubectl-edit")
    assert editor["operation"] == "Update"
    assert editor["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in _entry(edited, "kubectl")["fieldsV1"]["f:spec"]
    with pytest.raises(ApplyConflict) as err:
        apply_server_side(edited, _deploy(), "kubectl", force=False)
    assert 'conflict with "kubectl-edit" using apps/v1: .spec.replicas' in err.value.message
    # an apply that no longer mentions replicas leaves the edited value alone
    without = _deploy()
    del without["spec"]["replicas"]
    out = apply_server_side(edited, without, "kubectl", force=False)
    assert out["spec"]["replicas"] == 7


def test_update_on_create_and_noop_update() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"k": "v"},
    }
    update_managed_fields(None, obj, "kubectl-create", "Create")
    entry = _entry(obj, "kubectl-create")
    assert entry["operation"] == "Update"
    assert entry["fieldsV1"] == {"f:data": {"f:k": {}}}
    same = copy.deepcopy(obj)
    update_managed_fields(obj, same, "other", "Update")
    assert [e["manager"] for e in same["metadata"]["managedFields"]] == ["kubectl-create"]


def test_update_removing_field_drops_it_from_every_manager() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"k": "v"},
    }
    update_managed_fields(None, obj, "creator", "Create")
    new = copy.deepcopy(obj)
    del new["data"]
    new["binaryData"] = {"b": "AA=="}
    update_managed_fields(obj, new, "editor", "Update")
    assert [e["manager"] for e in new["metadata"]["managedFields"]] == ["editor"]


def test_status_subresource_entry() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": {}}
    new = copy.deepcopy(pod)
    new["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    update_managed_fields(pod, new, "kubelet", "Update", subresource="status")
    entry = _entry(new, "kubelet")
    assert entry["subresource"] == "status"
    conds = entry["fieldsV1"]["f:status"]["f:conditions"]
    assert conds == {'k:{"type":"Ready"}': {".": {}, "f:status": {}, "f:type": {}}}


def test_finalizers_are_a_set() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a/b"]}}
    live = apply_server_side(None, cm, "one", force=False)
    fields = _entry(live, "one")["fieldsV1"]
    assert fields == {"f:metadata": {"f:finalizers": {'v:"a/b"': {}}}}
    two = {**cm, "metadata": {"name": "c", "finalizers": ["c/d"]}}
    out = apply_server_side(live, two, "two", force=False)
    assert out["metadata"]["finalizers"] == ["a/b", "c/d"]


def test_atomic_lists_conflict_as_a_whole() -> None:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"tolerations": [{"key": "a"}]},
    }
    live = apply_server_side(None, pod, "one", force=False)
    assert _entry(live, "one")["fieldsV1"] == {"f:spec": {"f:tolerations": {}}}
    other = copy.deepcopy(pod)
    other["spec"]["tolerations"] = [{"key": "b"}]
    with pytest.raises(ApplyConflict) as err:
        apply_server_side(live, other, "two", force=False)
    assert err.value.message.endswith(".spec.tolerations")


def test_object_without_managed_fields_gets_before_first_apply_owner() -> None:
    live = _deploy()
    with pytest.raises(ApplyConflict) as err:
        apply_server_side(live, _deploy(replicas=4), "kubectl", force=False)
    assert '"before-first-apply"' in err.value.message


@pytest.mark.parametrize(
    ("applied", "fragment"),
    [
        ({"kind": "ConfigMap", "metadata": {"name": "c"}}, "apiVersion"),
        ({"apiVersion": "v1", "metadata": {"name": "c"}}, "kind"),
        (
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c", "managedFields": []},
            },
            "managedFields must be nil",
        ),
    ],
)
def test_invalid_apply_configurations(applied: dict[str, Any], fragment: str) -> None:
    with pytest.raises(PatchError) as err:
        apply_server_side(None, applied, "m", force=False)
    assert fragment in err.value.message
    assert err.value.code == 400


def test_duplicate_keys_rejected() -> None:
    bad = _deploy()
    bad["spec"]["template"]["spec"]["containers"].append({"name": "app", "image": "x"})
    with pytest.raises(PatchError) as err:
        apply_server_side(None, bad, "m", force=False)
    assert err.value.code == 422
    assert "duplicate" in err.value.message


def test_custom_resource_lists_follow_schema_list_types() -> None:
    from liqo_core.sandbox.apiserver.schema import CRDValidator

    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "rules": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                    },
                    "cidrs": {"type": "array", "x-kubernetes-list-type": "set"},
                    "plain": {"type": "array"},
                },
            }
        },
    }
    shape = CRDValidator(schema).merge_shape

    def cr(**spec: Any) -> dict[str, Any]:
        return {"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": spec}

    live = apply_server_side(
        None,
        cr(rules=[{"name": "a", "v": 1}], cidrs=["10.0.0.0/8"], plain=[1]),
        "one",
        False,
        shape=shape,
    )
    out = apply_server_side(
        live, cr(rules=[{"name": "b", "v": 2}], cidrs=["10.1.0.0/16"]), "two", False, shape=shape
    )
    assert [r["name"] for r in out["spec"]["rules"]] == ["a", "b"]
    assert out["spec"]["cidrs"] == ["10.0.0.0/8", "10.1.0.0/16"]
    assert _entry(out, "two")["fieldsV1"]["f:spec"]["f:rules"] == {
        'k:{"name":"b"}': {".": {}, "f:name": {}, "f:v": {}}
    }
    with pytest.raises(ApplyConflict):
        apply_server_side(out, cr(plain=[2]), "two", False, shape=shape)
    # without the schema's shape the same list is atomic
    atomic = apply_server_side(None, cr(rules=[{"name": "a"}]), "one", False)
    assert _entry(atomic, "one")["fieldsV1"]["f:spec"] == {"f:rules": {}}


def test_entries_are_ordered_apply_first() -> None:
    cm: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    created = {**copy.deepcopy(cm), "data": {"a": "1"}}
    update_managed_fields(None, created, "zz-creator", "Create")
    out = apply_server_side(created, {**cm, "data": {"b": "2"}}, "applier", force=False)
    assert [(e["manager"], e["operation"]) for e in out["metadata"]["managedFields"]] == [
        ("applier", "Apply"),
        ("zz-creator", "Update"),
    ]


def test_node_addresses_are_atomic_for_apply_but_conditions_keyed() -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n"},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": "10.0.0.1"},
                {"type": "InternalIP", "address": "fd00::1"},
            ],
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    out = apply_server_side(None, node, "kubelet", False, subresource="status")
    entry = _entry(out, "kubelet")
    assert entry["subresource"] == "status"
    status = entry["fieldsV1"]["f:status"]
    assert status["f:addresses"] == {}
    assert 'k:{"type":"Ready"}' in status["f:conditions"]


def test_conflicts_with_several_managers_are_grouped_and_sorted() -> None:
    live = apply_server_side(None, _deploy(), "zed", force=False)
    edited = copy.deepcopy(live)
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:5"
    update_managed_fields(live, edited, "kubectl-set", "Update", subresource="")
    with pytest.raises(ApplyConflict) as err:
        apply_server_side(edited, _deploy(replicas=9, image="nginx:6"), "bob", force=False)
    assert err.value.message == (
        "Apply failed with 2 conflicts: "
        'conflicts with "kubectl-set" using apps/v1:\n'
        '- .spec.template.spec.containers[name="app"].image\n'
        'conflicts with "zed":\n'
        "- .spec.replicas"
    )


def test_manager_label_mentions_subresource() -> None:
    from liqo_core.sandbox.apiserver.patch.errors import manager_label

    label = manager_label("kube-controller-manager", "Update", "apps/v1", "scale")
    assert label == '"kube-controller-manager" with subresource "scale" using apps/v1'
    assert manager_label("argocd", "Apply", "apps/v1") == '"argocd"'


def _client_side_applied(replicas: int = 1) -> dict[str, Any]:
    """A Deployment as ``kubectl apply`` (client-side) leaves it."""
    obj = _deploy(replicas=replicas)
    config = copy.deepcopy(obj)
    obj["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": orjson.dumps(config).decode() + "\n"
    }
    update_managed_fields(None, obj, "kubectl-client-side-apply", "Create")
    return obj


def test_kubectl_takes_over_fields_it_client_side_applied() -> None:
    live = _client_side_applied()
    out = apply_server_side(live, _deploy(replicas=3), "kubectl", force=False)
    assert out["spec"]["replicas"] == 3
    owners = {e["manager"]: e["fieldsV1"] for e in out["metadata"]["managedFields"]}
    assert "f:replicas" in owners["kubectl"]["f:spec"]
    assert "f:replicas" not in owners["kubectl-client-side-apply"]["f:spec"]
    annotation = out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert orjson.loads(annotation)["spec"]["replicas"] == 3
    assert "annotations" not in orjson.loads(annotation)["metadata"]


def test_only_kubectl_and_only_last_applied_fields_are_taken_over() -> None:
    live = _client_side_applied()
    with pytest.raises(ApplyConflict):
        apply_server_side(live, _deploy(replicas=3), "other-tool", force=False)
    edited = copy.deepcopy(live)
    edited["spec"]["paused"] = True
    update_managed_fields(live, edited, "kubectl-edit", "Update")
    paused = _deploy(replicas=3)
    paused["spec"]["paused"] = False
    with pytest.raises(ApplyConflict) as err:
        apply_server_side(edited, paused, "kubectl", force=False)
    assert err.value.message.endswith('"kubectl-edit" using apps/v1: .spec.paused')


def test_noop_apply_returns_the_live_object_unchanged() -> None:
    live = apply_server_side(None, _deploy(), "kubectl", force=False)
    for entry in live["metadata"]["managedFields"]:
        entry["time"] = "2020-01-01T00:00:00Z"
    again = apply_server_side(live, _deploy(), "kubectl", force=False)
    assert again == live
    changed = apply_server_side(live, _deploy(replicas=4), "kubectl", force=False)
    assert changed["metadata"]["managedFields"][0]["time"] != "2020-01-01T00:00:00Z"
