"""The VirtualNode a granted ResourceSlice gets (reference §3.4 step 8)."""

from __future__ import annotations

from typing import Any

from liqo_offloading.virtualnode import vncreator

ACCEPTED = [
    {"type": "Authentication", "status": "Accepted"},
    {"type": "Resources", "status": "Accepted"},
]


def resource_slice(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "slice-a",
            "namespace": "liqo-tenant-p",
            "uid": "u-1",
            "labels": {"liqo.io/remote-cluster-id": "p"},
            "annotations": {"liqo.io/create-virtual-node": "true"},
        },
        "status": {"conditions": ACCEPTED, **status},
    }


def test_a_node_is_created_only_when_asked_and_granted() -> None:
    granted = resource_slice()
    assert vncreator.wants_virtual_node(granted) and vncreator.accepted(granted)
    for value in ("", "false", "False"):
        off = resource_slice()
        off["metadata"]["annotations"]["liqo.io/create-virtual-node"] = value
        assert not vncreator.wants_virtual_node(off)
    denied = resource_slice(conditions=[ACCEPTED[0], {"type": "Resources", "status": "Denied"}])
    assert not vncreator.accepted(denied)
    assert not vncreator.accepted(resource_slice(conditions=[ACCEPTED[0]]))


def test_the_virtual_node_mirrors_the_grant() -> None:
    slice_ = resource_slice(
        resources={"cpu": "4", "memory": "8Gi"},
        nodeLabels={"zone": "eu"},
        nodeSelector={"pool": "a"},
        storageClasses=[{"storageClassName": "fast"}],
    )
    vn = vncreator.desired_virtual_node(slice_, "p", "kubeconfig-resourceslice-slice-a", None)
    meta = vn["metadata"]
    assert (meta["name"], meta["namespace"]) == ("slice-a", "liqo-tenant-p")
    assert meta["labels"] == {
        "liqo.io/remote-cluster-id": "p",
        "liqo.io/resourceslice-name": "slice-a",
    }
    [owner] = meta["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "ResourceSlice",
        "slice-a",
        "u-1",
        True,
    )
    spec = vn["spec"]
    assert spec["clusterID"] == "p"
    assert spec["kubeconfigSecretRef"] == {"name": "kubeconfig-resourceslice-slice-a"}
    assert spec["resourceQuota"] == {"hard": {"cpu": "4", "memory": "8Gi"}}
    assert spec["labels"] == {"liqo.io/remote-cluster-id": "p", "zone": "eu"}
    assert spec["offloadingPatch"] == {"nodeSelector": {"pool": "a"}}
    assert spec["storageClasses"] == [{"storageClassName": "fast"}]


def test_an_update_follows_the_grant_and_keeps_what_users_added() -> None:
    first = resource_slice(resources={"cpu": "4", "memory": "8Gi", "pods": "110"})
    live = vncreator.desired_virtual_node(first, "p", "kcfg", None)
    live["spec"]["labels"]["mine"] = "kept"
    live["spec"]["createNode"] = False
    assert vncreator.update_of(live, vncreator.desired_virtual_node(first, "p", "kcfg", live)) == {}

    shrunk = resource_slice(resources={"cpu": "2", "memory": "8Gi"})
    patch = vncreator.update_of(live, vncreator.desired_virtual_node(shrunk, "p", "kcfg", live))
    assert patch == {"spec": {"resourceQuota": {"hard": {"cpu": "2", "pods": None}}}}


def test_a_virtual_node_of_a_former_slice_changes_owner() -> None:
    slice_ = resource_slice()
    live = vncreator.desired_virtual_node(slice_, "p", "kcfg", None)
    live["metadata"]["ownerReferences"][0]["uid"] = "old"
    patch = vncreator.update_of(live, vncreator.desired_virtual_node(slice_, "p", "kcfg", live))
    [owner] = patch["metadata"]["ownerReferences"]
    assert owner["uid"] == "u-1"
