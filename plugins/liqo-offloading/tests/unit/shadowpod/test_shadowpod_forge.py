"""The Pod a ShadowPod keeps: name, labels, owner, spec; and its kubernetes.default alias."""

from __future__ import annotations

from typing import Any

import pytest
from liqo_offloading.shadowpod import forge

SPEC = {"containers": [{"name": "app", "image": "app:1"}], "terminationGracePeriodSeconds": 7}


def shadow(**extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "offloading.liqo.io/v1beta1",
        "kind": "ShadowPod",
        "metadata": {
            "name": "web", "namespace": "app-c", "uid": "sp-uid",
            "labels": {"offloading.liqo.io/origin": "c", "team": "x"},
            "annotations": {"note": "hi"}, **extra,
        },
        "spec": {"pod": SPEC},
    }  # fmt: skip


def test_the_pod_is_named_labelled_and_controlled_by_its_shadow_pod() -> None:
    pod = forge.forge_pod(shadow())
    assert pod["metadata"] == {
        "name": "web",
        "namespace": "app-c",
        "labels": {
            "offloading.liqo.io/origin": "c", "team": "x", "liqo.io/managed-by": "shadowpod",
        },
        "annotations": {"note": "hi"},
        "ownerReferences": [
            {
                "apiVersion": "offloading.liqo.io/v1beta1", "kind": "ShadowPod", "name": "web",
                "uid": "sp-uid", "controller": True, "blockOwnerDeletion": True,
            }
        ],
    }  # fmt: skip
    assert pod["spec"] == SPEC and pod["spec"] is not SPEC
    assert forge.controlled_by(pod, shadow())
    assert not forge.controlled_by(pod, {"metadata": {"uid": "another"}})
    assert forge.shadow_owner(pod) == "app-c/web"
    assert forge.shadow_owner({"metadata": {"namespace": "x"}}) is None


def test_only_labels_and_annotations_follow_the_shadow_pod() -> None:
    pod = forge.forge_pod(shadow())
    assert forge.metadata_apply(pod, shadow()) is None
    changed = shadow()
    changed["metadata"]["labels"]["team"] = "y"
    body = forge.metadata_apply(pod, changed)
    assert body == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "namespace": "app-c",
            "labels": {**changed["metadata"]["labels"], "liqo.io/managed-by": "shadowpod"},
            "annotations": {"note": "hi"},
        },
    }
    assert "spec" not in body


def test_phases() -> None:
    assert forge.pod_phase({"status": {"phase": "Running"}}) == "Running"
    assert forge.pod_phase({}) == "Unknown"
    assert forge.shadow_phase({}) is None
    assert {"Succeeded", "Failed"} == forge.TERMINAL_PHASES


CONFIGURATION = {
    "metadata": {"name": "c"},
    "spec": {"remote": {"cidr": {"pod": ["10.0.0.0/16"], "external": ["10.70.0.0/16"]}}},
    "status": {"remote": {"cidr": {"pod": ["10.200.0.0/16"], "external": ["10.201.0.0/16"]}}},
}


def test_the_api_service_alias_is_remapped_through_the_configuration() -> None:
    remap = forge.configuration_remapper(CONFIGURATION)
    assert remap("10.0.3.4") == "10.200.3.4"
    assert remap("10.70.0.1") == "10.201.0.1"
    assert remap("192.168.1.1") == "192.168.1.1"
    spec = {
        "containers": [],
        "hostAliases": [
            {"ip": "10.70.0.1", "hostnames": ["kubernetes.default", "kubernetes"]},
            {"ip": "10.70.0.9", "hostnames": ["other"]},
        ],
    }
    assert forge.api_service_aliases(spec) == [0]
    remapped = forge.remap_api_aliases(spec, remap)
    assert [a["ip"] for a in remapped["hostAliases"]] == ["10.201.0.1", "10.70.0.9"]
    assert spec["hostAliases"][0]["ip"] == "10.70.0.1"  # the input is left alone


def test_a_configuration_not_remapped_yet_is_refused() -> None:
    pending = {**CONFIGURATION, "status": {}}
    with pytest.raises(forge.NotRemapped, match="no remapped pod CIDRs yet"):
        forge.configuration_remapper(pending)
