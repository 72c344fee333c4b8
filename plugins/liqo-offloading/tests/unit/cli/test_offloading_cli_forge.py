"""The offloading commands' pure parts: selectors, manifests, details."""

from __future__ import annotations

import re

import pytest
from liqo_offloading.cli import offload, virtualnode
from liqo_offloading.cli.selectors import SelectorError, cluster_selector, parse_selector

from liqo_core.cli.context import CommandError


def test_selector_syntax() -> None:
    assert parse_selector("region=eu") == [{"key": "region", "operator": "In", "values": ["eu"]}]
    assert parse_selector("region==eu") == [{"key": "region", "operator": "In", "values": ["eu"]}]
    assert parse_selector("tier!=gold") == [
        {"key": "tier", "operator": "NotIn", "values": ["gold"]}
    ]
    assert parse_selector("region in (europe,us-west), !staging, gpu") == [
        {"key": "region", "operator": "In", "values": ["europe", "us-west"]},
        {"key": "staging", "operator": "DoesNotExist"},
        {"key": "gpu", "operator": "Exists"},
    ]
    assert parse_selector("liqo.io/provider notin ( a , b )") == [
        {"key": "liqo.io/provider", "operator": "NotIn", "values": ["a", "b"]}
    ]
    assert parse_selector("empty=") == [{"key": "empty", "operator": "In", "values": [""]}]


def test_repeated_selectors_are_alternatives() -> None:
    assert cluster_selector(["a=1,b=2", "c"]) == {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]},
                              {"key": "b", "operator": "In", "values": ["2"]}]},
        {"matchExpressions": [{"key": "c", "operator": "Exists"}]},
    ]}  # fmt: skip
    assert cluster_selector(None) == {"nodeSelectorTerms": []}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "expected a requirement"),
        ("a=1,", "expected a requirement"),
        ("a in (x", "unclosed"),
        ("a in x", "expected '('"),
        ("a in ()", "at least one value"),
        ("a b", "expected ','"),
        ("tier>2", "not supported"),
        ("Bad Key!", "expected"),
        ("a=b c", "expected ','"),
        ("-a=1", "not a valid label key"),
        ("a=-1", "not a valid label value"),
        ("!", "after '!'"),
        ("=x", "expected a label key"),
    ],
)
def test_bad_selectors(text: str, problem: str) -> None:
    with pytest.raises(SelectorError, match=re.escape(problem)):
        parse_selector(text)


def test_namespace_offloading_manifest_and_immutability() -> None:
    body = offload.namespace_offloading(
        "app", pod_strategy="Remote", mapping_strategy="SelectedName", remote_name="there",
        selector={"nodeSelectorTerms": []},
    )  # fmt: skip
    assert body == {
        "apiVersion": "offloading.liqo.io/v1beta1",
        "kind": "NamespaceOffloading",
        "metadata": {"name": "offloading", "namespace": "app"},
        "spec": {"namespaceMappingStrategy": "SelectedName", "podOffloadingStrategy": "Remote",
                 "clusterSelector": {"nodeSelectorTerms": []}, "remoteNamespaceName": "there"},
    }  # fmt: skip
    live = {"spec": {"namespaceMappingStrategy": "SelectedName", "remoteNamespaceName": "there"}}
    assert offload.immutable_problem(live, body) is None
    live_default = {"spec": {}}
    problem = offload.immutable_problem(live_default, body)
    assert problem is not None and "DefaultName, which cannot change" in problem
    renamed = {"spec": {"namespaceMappingStrategy": "SelectedName", "remoteNamespaceName": "x"}}
    problem = offload.immutable_problem(renamed, body)
    assert problem is not None and "'x', which cannot change" in problem


def test_offloading_detail() -> None:
    assert offload.offloading_detail(None) == "the NamespaceOffloading does not exist"
    stale = {"metadata": {"generation": 2}, "status": {"observedGeneration": 1}}
    assert "not processed the latest change" in offload.offloading_detail(stale)
    current = {"metadata": {"generation": 2}, "status": {
        "observedGeneration": 2, "offloadingPhase": "InProgress",
        "remoteNamespacesConditions": {
            "p1": [{"type": "Ready", "status": "True", "reason": "NamespaceCreated"}],
            "p2": [{"type": "Ready", "status": "False", "reason": "Creating"}]}}}  # fmt: skip
    assert offload.offloading_detail(current) == "InProgress (p2: Creating)"


def test_stricter() -> None:
    assert offload.stricter("LocalAndRemote", "Remote")
    assert not offload.stricter("Remote", "LocalAndRemote")
    assert not offload.stricter("Local", "Local")


def test_virtual_node_manifest() -> None:
    opts = virtualnode.NodeOptions(
        "kc", {"cpu": "2"}, labels={"gpu": "yes"}, node_selector={"zone": "a"},
        storage_classes=virtualnode.classes(["fast", "slow"], "storageClassName"),
        runtime_class="gvisor", template=("liqo", "mine"), create_node=False,
        disable_network_check=True,
    )  # fmt: skip
    body = virtualnode.virtual_node("vn", "liqo-tenant-p", "p", opts)
    assert body["metadata"] == {"name": "vn", "namespace": "liqo-tenant-p",
                                "labels": {"liqo.io/remote-cluster-id": "p"}}  # fmt: skip
    assert body["spec"] == {
        "clusterID": "p",
        "createNode": False,
        "disableNetworkCheck": True,
        "kubeconfigSecretRef": {"name": "kc"},
        "resourceQuota": {"hard": {"cpu": "2"}},
        "labels": {"liqo.io/remote-cluster-id": "p", "gpu": "yes"},
        "storageClasses": [{"storageClassName": "fast", "default": True},
                           {"storageClassName": "slow"}],
        "offloadingPatch": {"runtimeClassName": "gvisor", "nodeSelector": {"zone": "a"}},
        "vkOptionsTemplateRef": {"namespace": "liqo", "name": "mine"},
    }  # fmt: skip


def test_slice_options() -> None:
    granted = {"status": {
        "resources": {"cpu": "4", "memory": "8Gi"}, "nodeLabels": {"zone": "z"},
        "nodeSelector": {"pool": "a"},
        "storageClasses": [{"storageClassName": "s", "default": True}]}}  # fmt: skip
    opts = virtualnode.slice_options(granted, "kubeconfig-resourceslice-s")
    assert opts.kubeconfig_secret == "kubeconfig-resourceslice-s"
    assert opts.resources == {"cpu": "4", "memory": "8Gi"}
    assert (opts.labels, opts.node_selector) == ({"zone": "z"}, {"pool": "a"})
    assert opts.storage_classes == [{"storageClassName": "s", "default": True}]


def test_flag_parsing() -> None:
    assert virtualnode.parse_pairs("--labels", ["a=1,b=2", "c="]) == {"a": "1", "b": "2", "c": ""}
    with pytest.raises(CommandError, match="--labels 'nope': expected key=value"):
        virtualnode.parse_pairs("--labels", ["nope"])
    assert virtualnode.parse_list(["a,b", "a", " c "]) == ["a", "b", "c"]
    assert virtualnode.parse_template("liqo/t") == ("liqo", "t")
    assert virtualnode.parse_template(None) is None
    for bad in ("t", "/t", "a/b/c"):
        with pytest.raises(CommandError, match="expected <namespace>/<name>"):
            virtualnode.parse_template(bad)
