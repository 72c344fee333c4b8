"""The provider's NamespaceMap rules: twins, their RoleBinding, the plan and the status."""

from __future__ import annotations

from typing import Any

from liqo_offloading.namespacemap import rules
from liqo_offloading.namespacemap.rules import Twin

KEY = "liqo-tenant-c/p"


def nm(
    desired: dict[str, str] | None = None, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {
            "name": "p",
            "namespace": "liqo-tenant-c",
            "labels": {"liqo.io/replicated": "true", "liqo.io/originID": "c"},
        },
        "spec": {"desiredMapping": desired or {}},
    }
    if current is not None:
        obj["status"] = {"currentMapping": current}
    return obj


def namespace(name: str, key: str | None = KEY, *, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": f"uid-{name}"}
    if key is not None:
        meta["annotations"] = {
            "liqo.io/managed-by-namespace-map": key,
            "liqo.io/original-name": name.removesuffix("-c"),
        }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta}


def entry(remote: str, phase: str) -> dict[str, str]:
    return {"remoteNamespace": remote, "phase": phase}


def test_a_twin_is_annotated_with_its_map_and_labelled_with_the_origin() -> None:
    twin = rules.twin_namespace("app-c", "app", KEY, "c")
    assert twin["metadata"] == {
        "name": "app-c",
        "labels": {"liqo.io/remote-cluster-id": "c"},
        "annotations": {
            "liqo.io/managed-by-namespace-map": KEY,
            "liqo.io/original-name": "app",
        },
    }
    lost = {"metadata": {"name": "app-c", "labels": {"team": "x"}, "annotations": {}}}
    assert rules.twin_metadata_patch(lost, twin) == {
        "metadata": {
            "labels": twin["metadata"]["labels"],
            "annotations": twin["metadata"]["annotations"],
        }
    }
    assert rules.twin_metadata_patch(twin, twin) == {}


def test_the_role_binding_binds_the_origin_group_to_the_remote_kubelet_role() -> None:
    binding = rules.role_binding("app-c", nm())
    assert binding["metadata"]["name"] == "liqo-tenant-c"  # named after the tenant namespace
    assert binding["metadata"]["namespace"] == "app-c"
    assert binding["metadata"]["annotations"] == {"liqo.io/managed-by-namespace-map": KEY}
    assert binding["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "liqo",
        "liqo.io/remote-cluster-id": "c",
    }
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "c"}
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "liqo-virtual-kubelet-remote",
    }
    widened = {**binding, "subjects": [*binding["subjects"], {"kind": "User", "name": "eve"}]}
    assert rules.role_binding_patch(widened, binding) == {"subjects": binding["subjects"]}
    assert rules.role_binding_patch(binding, binding) == {}
    other = {**binding, "roleRef": {**binding["roleRef"], "name": "admin"}}
    assert rules.same_role(binding, binding) and not rules.same_role(other, binding)


def test_twin_states() -> None:
    assert rules.twin_state(None, KEY) is Twin.ABSENT
    assert rules.twin_state(namespace("a"), KEY) is Twin.MANAGED
    assert rules.twin_state(namespace("a", deleting=True), KEY) is Twin.MANAGED_TERMINATING
    assert rules.twin_state(namespace("a", None), KEY) is Twin.FOREIGN
    assert rules.twin_state(namespace("a", "liqo-tenant-d/p"), KEY) is Twin.FOREIGN


def test_missing_twins_are_created_and_existing_ones_kept() -> None:
    plan = rules.plan(nm({"app": "app-c", "web": "web-c"}), {"web-c": namespace("web-c")}, {})
    assert plan.create == [("app", "app-c")]
    assert plan.keep == [("web", "web-c")]
    assert plan.delete == [] and plan.blocked == []
    assert plan.status == {"app": entry("app-c", "Accepted"), "web": entry("web-c", "Accepted")}


def test_a_namespace_the_map_does_not_manage_blocks_its_entry() -> None:
    plan = rules.plan(nm({"app": "app-c"}), {"app-c": namespace("app-c", None)}, {})
    assert plan.create == [] and plan.keep == []
    assert plan.status == {"app": entry("app-c", "CreationLoopBackOff")}
    [(local, remote, why)] = plan.blocked
    assert (local, remote) == ("app", "app-c")
    assert why == "namespace 'app-c' already exists and is not managed by NamespaceMap " + KEY


def test_invalid_and_duplicate_remote_names_are_blocked() -> None:
    plan = rules.plan(nm({"a": "Bad_Name", "b": "same", "c": "same"}), {}, {})
    assert plan.create == [("b", "same")]
    assert {local for local, _, _ in plan.blocked} == {"a", "c"}
    assert "'Bad_Name' is not a valid namespace name" in plan.blocked[0][2]
    assert plan.status["a"]["phase"] == plan.status["c"]["phase"] == "CreationLoopBackOff"


def test_removed_entries_delete_their_twins_until_gone() -> None:
    current = {"app": entry("app-c", "Accepted"), "web": entry("web-c", "Accepted")}
    managed = {"app-c": namespace("app-c"), "web-c": namespace("web-c")}
    plan = rules.plan(nm({"web": "web-c"}, current), managed, managed)
    assert plan.delete == ["app-c"]
    assert plan.status == {"app": entry("app-c", "Terminating"), "web": entry("web-c", "Accepted")}
    # Being deleted: not deleted again, still Terminating.
    managed["app-c"] = namespace("app-c", deleting=True)
    plan = rules.plan(nm({"web": "web-c"}, current), managed, managed)
    assert plan.delete == [] and plan.status["app"] == entry("app-c", "Terminating")
    # Gone: the entry is dropped.
    plan = rules.plan(
        nm({"web": "web-c"}, current), {"web-c": managed["web-c"]}, {"web-c": managed["web-c"]}
    )
    assert plan.status == {"web": entry("web-c", "Accepted")}


def test_a_removed_entry_whose_name_was_taken_is_just_dropped() -> None:
    current = {"app": entry("app-c", "CreationLoopBackOff")}
    plan = rules.plan(nm({}, current), {"app-c": namespace("app-c", None)}, {})
    assert plan.delete == [] and plan.status == {}


def test_twins_left_by_a_renamed_mapping_are_deleted() -> None:
    managed = {"old-c": namespace("old-c")}
    plan = rules.plan(nm({"app": "new-c"}, {"app": entry("old-c", "Accepted")}), {}, managed)
    assert plan.create == [("app", "new-c")]
    assert plan.delete == ["old-c"]
    assert plan.status == {"app": entry("new-c", "Accepted")}


def test_a_twin_deleted_by_hand_is_recreated_once_gone_keeping_its_phase() -> None:
    current = {"app": entry("app-c", "Accepted")}
    terminating = {"app-c": namespace("app-c", deleting=True)}
    plan = rules.plan(nm({"app": "app-c"}, current), terminating, terminating)
    assert plan.create == [] and plan.delete == []
    assert plan.status == {"app": entry("app-c", "Accepted")}
    plan = rules.plan(nm({"app": "app-c"}, {}), terminating, terminating)
    assert plan.status == {"app": entry("app-c", "CreationLoopBackOff")}
    plan = rules.plan(nm({"app": "app-c"}, current), {}, {})
    assert plan.create == [("app", "app-c")]


def test_a_deleted_map_deletes_every_twin_then_is_settled() -> None:
    current = {"app": entry("app-c", "Accepted")}
    managed = {"app-c": namespace("app-c")}
    plan = rules.plan(nm({"app": "app-c"}, current), managed, managed, deleting=True)
    assert plan.create == [] and plan.keep == []
    assert plan.delete == ["app-c"]
    assert plan.status == {"app": entry("app-c", "Terminating")}
    assert not plan.settled
    plan = rules.plan(nm({"app": "app-c"}, current), {}, {}, deleting=True)
    assert plan.settled and plan.status == {}


def test_the_status_patch_removes_dropped_entries_and_is_empty_when_unchanged() -> None:
    current = {"app": entry("app-c", "Accepted"), "web": entry("web-c", "Terminating")}
    wanted = {"app": entry("app-c", "Accepted")}
    assert rules.status_patch(nm({}, current), wanted) == {
        "status": {"currentMapping": {"app": entry("app-c", "Accepted"), "web": None}}
    }
    assert rules.status_patch(nm({}, wanted), wanted) == {}
    assert rules.status_patch(nm({}), {}) == {}


def test_keys_and_origins() -> None:
    assert rules.map_key(nm()) == KEY
    assert rules.origin_of(nm()) == "c"
    assert rules.managed_by(namespace("a")) == KEY
    assert rules.managed_by(namespace("a", None)) is None
    assert rules.REPLICATED_SELECTOR == "liqo.io/replicated=true,liqo.io/originID"
