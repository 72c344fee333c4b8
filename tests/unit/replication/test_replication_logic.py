"""The CRD replicator's pure rules: selection, label rewriting, spec and status diffs."""

from __future__ import annotations

import base64

from liqo_core.api import consts
from liqo_core.api.authentication_v1beta1 import Renew, ResourceSlice
from liqo_core.api.offloading_namespace import NamespaceMap
from liqo_core.replication import ReplicatedResource, logic
from liqo_core.replication.manager import secret_target

SLICE = ReplicatedResource.of(ResourceSlice)


def local_slice(**labels: str) -> logic.JSONObject:
    return {
        "apiVersion": "authentication.liqo.io/v1beta1",
        "kind": "ResourceSlice",
        "metadata": {
            "name": "provider-a",
            "namespace": "liqo-tenant-provider-a",
            "resourceVersion": "1200",
            "uid": "u-1",
            "finalizers": ["other.io/keep"],
            "annotations": {"liqo.io/create-virtual-node": "true"},
            "labels": {
                consts.REPLICATION_REQUESTED_LABEL: "true",
                consts.REPLICATION_DESTINATION_LABEL: "provider-a",
                consts.REMOTE_CLUSTER_ID_LABEL: "provider-a",
                "app": "demo",
                **labels,
            },
        },
        "spec": {"class": "default", "resources": {"cpu": "2"}},
        "status": {"conditions": []},
    }


def test_replicated_resources_are_served_where_their_models_say() -> None:
    served = {
        (kind.group, kind.version, kind.resource, kind.kind)
        for kind in (ReplicatedResource.of(m) for m in (NamespaceMap, ResourceSlice, Renew))
    }
    assert served == {
        ("offloading.liqo.io", "v1beta1", "namespacemaps", "NamespaceMap"),
        ("authentication.liqo.io", "v1beta1", "resourceslices", "ResourceSlice"),
        ("authentication.liqo.io", "v1beta1", "renews", "Renew"),
    }
    assert SLICE.path("ns", "x", "status") == (
        "/apis/authentication.liqo.io/v1beta1/namespaces/ns/resourceslices/x/status"
    )
    assert SLICE.path(None) == "/apis/authentication.liqo.io/v1beta1/resourceslices"
    assert SLICE.api_version == "authentication.liqo.io/v1beta1"


def test_selection_needs_replication_true_and_the_peer_as_destination() -> None:
    assert logic.selected(local_slice(), "provider-a")
    assert not logic.selected(local_slice(), "provider-b")
    assert not logic.selected(
        local_slice(**{consts.REPLICATION_REQUESTED_LABEL: "false"}), "provider-a"
    )
    assert logic.local_selector("p") == "liqo.io/replication=true,liqo.io/remoteID=p"
    assert logic.remote_selector("c") == "liqo.io/replicated=true,liqo.io/originID=c"


def test_remote_copy_has_rewritten_labels_same_name_and_spec_and_nothing_local() -> None:
    copy = logic.desired_remote(local_slice(), SLICE, "consumer", "liqo-tenant-consumer")
    assert copy == {
        "apiVersion": "authentication.liqo.io/v1beta1",
        "kind": "ResourceSlice",
        "metadata": {
            "name": "provider-a",
            "namespace": "liqo-tenant-consumer",
            "labels": {
                consts.REPLICATION_REQUESTED_LABEL: "false",
                consts.REPLICATION_STATUS_LABEL: "true",
                consts.REPLICATION_ORIGIN_LABEL: "consumer",
                consts.REMOTE_CLUSTER_ID_LABEL: "consumer",
                "app": "demo",
            },
        },
        "spec": {"class": "default", "resources": {"cpu": "2"}},
    }
    assert logic.is_our_copy(copy, "consumer")
    assert not logic.is_our_copy(copy, "someone-else")
    assert not logic.is_our_copy(local_slice(), "consumer")


def test_remote_update_only_when_spec_or_our_labels_differ_and_keeps_the_peers_fields() -> None:
    desired = logic.desired_remote(local_slice(), SLICE, "consumer", "tenant")
    remote = {
        **desired,
        "metadata": {
            **desired["metadata"],
            "resourceVersion": "77",
            "finalizers": ["provider.io/f"],
            "labels": {**desired["metadata"]["labels"], "provider-label": "x"},
        },
        "status": {"conditions": [{"type": "Resources", "status": "Accepted"}]},
    }
    assert logic.remote_update(remote, desired) is None

    changed = local_slice()
    changed["spec"]["resources"] = {"cpu": "4"}
    updated = logic.remote_update(remote, logic.desired_remote(changed, SLICE, "consumer", "t"))
    assert updated is not None
    assert updated["spec"] == {"class": "default", "resources": {"cpu": "4"}}
    assert updated["metadata"]["resourceVersion"] == "77"
    assert updated["metadata"]["finalizers"] == ["provider.io/f"]
    assert updated["metadata"]["labels"]["provider-label"] == "x"
    assert updated["status"] == remote["status"]

    tampered = {**remote, "metadata": {**remote["metadata"], "labels": {"app": "demo"}}}
    relabelled = logic.remote_update(tampered, desired)
    assert relabelled is not None
    assert relabelled["metadata"]["labels"] == desired["metadata"]["labels"]


def test_the_copys_annotations_are_the_peers_and_local_ones_never_reach_it() -> None:
    """The provider cordons its copy; the consumer can neither lift nor set a cordon."""
    local = local_slice()
    local["metadata"]["annotations"] = {
        consts.CORDON_ANNOTATION: "false",
        consts.CORDON_TENANT_ANNOTATION: "false",
        "liqo.io/create-virtual-node": "true",
    }
    desired = logic.desired_remote(local, SLICE, "consumer", "tenant")
    assert "annotations" not in desired["metadata"]

    cordoned = {
        **desired,
        "metadata": {
            **desired["metadata"],
            "resourceVersion": "9",
            "annotations": {consts.CORDON_ANNOTATION: "true", "provider.io/note": "x"},
        },
    }
    local["spec"]["resources"] = {"cpu": "8"}
    local["metadata"]["labels"]["app"] = "changed"
    updated = logic.remote_update(
        cordoned, logic.desired_remote(local, SLICE, "consumer", "tenant")
    )
    assert updated is not None
    assert updated["spec"]["resources"] == {"cpu": "8"}
    assert updated["metadata"]["labels"]["app"] == "changed"
    assert updated["metadata"]["annotations"] == {
        consts.CORDON_ANNOTATION: "true",
        "provider.io/note": "x",
    }
    assert updated["metadata"]["resourceVersion"] == "9"


def test_status_flows_back_only_when_the_remote_has_a_different_one() -> None:
    local = local_slice()
    assert logic.status_update(local, {"status": {}}) is None
    assert logic.status_update(local, {}) is None
    granted = {"conditions": [{"type": "Resources", "status": "Accepted"}]}
    updated = logic.status_update(local, {"status": granted})
    assert updated is not None
    assert updated["status"] == granted
    assert updated["metadata"]["resourceVersion"] == "1200"
    assert local["status"] == {"conditions": []}  # the input is not modified
    assert logic.status_update(updated, {"status": granted}) is None


def test_finalizers_are_added_once_and_removed_without_touching_others() -> None:
    obj = local_slice()
    added = logic.with_finalizer(obj, consts.CRD_REPLICATOR_RESOURCE_FINALIZER, True)
    assert added is not None
    assert added["metadata"]["finalizers"] == [
        "other.io/keep",
        consts.CRD_REPLICATOR_RESOURCE_FINALIZER,
    ]
    assert logic.with_finalizer(added, consts.CRD_REPLICATOR_RESOURCE_FINALIZER, True) is None
    removed = logic.with_finalizer(added, consts.CRD_REPLICATOR_RESOURCE_FINALIZER, False)
    assert removed is not None
    assert removed["metadata"]["finalizers"] == ["other.io/keep"]
    assert logic.with_finalizer(obj, consts.CRD_REPLICATOR_RESOURCE_FINALIZER, False) is None


def test_secret_target_and_fingerprint_follow_the_kubeconfig_content() -> None:
    def secret(kubeconfig: bytes) -> logic.JSONObject:
        return {
            "metadata": {
                "labels": {consts.REMOTE_CLUSTER_ID_LABEL: "provider-a"},
                "annotations": {consts.REMOTE_TENANT_NAMESPACE_ANNOTATION: "liqo-tenant-c"},
            },
            "data": {"kubeconfig": base64.b64encode(kubeconfig).decode()},
        }

    first, second = secret_target(secret(b"one")), secret_target(secret(b"two"))
    assert first is not None and second is not None
    assert (first.peer, first.remote_namespace) == ("provider-a", "liqo-tenant-c")
    assert first.fingerprint != second.fingerprint
    assert first.fingerprint == secret_target(secret(b"one")).fingerprint  # type: ignore[union-attr]
    assert "one" not in first.fingerprint
    assert secret_target({"metadata": {}, "data": {}}) is None
    assert secret_target({**secret(b"x"), "data": {"kubeconfig": "not base64!"}}) is None
