"""Scheduling predicates: node selector, affinity, taints, resources, messages."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from liqo_core.sandbox import scheduling


def node(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec,
        "status": {
            "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "3", "example.com/gpu": "1"}
        },
    }


def pod(**spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "c"}])
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": spec}


def requiring(*terms: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
        }
    }


def test_node_selector() -> None:
    ssd = node("a", {"disk": "ssd"})
    assert scheduling.matches_node_affinity(pod(nodeSelector={"disk": "ssd"}), ssd)
    assert not scheduling.matches_node_affinity(pod(nodeSelector={"disk": "hdd"}), ssd)


@pytest.mark.parametrize(
    ("operator", "values", "label", "expected"),
    [
        ("In", ["a", "b"], "a", True),
        ("In", ["a"], None, False),
        ("NotIn", ["a"], "b", True),
        ("NotIn", ["a"], None, True),
        ("NotIn", ["a"], "a", False),
        ("Exists", [], "x", True),
        ("Exists", [], None, False),
        ("DoesNotExist", [], None, True),
        ("DoesNotExist", [], "x", False),
        ("Gt", ["3"], "4", True),
        ("Gt", ["3"], "3", False),
        ("Lt", ["3"], "2", True),
        ("Lt", ["3"], "nope", False),
    ],
)
def test_match_expressions(
    operator: str, values: list[str], label: str | None, expected: bool
) -> None:
    labels = {} if label is None else {"k": label}
    term = {"matchExpressions": [{"key": "k", "operator": operator, "values": values}]}
    assert (
        scheduling.matches_node_affinity(pod(affinity=requiring(term)), node("n", labels))
        is expected
    )


def test_terms_are_ored_and_match_fields_by_name() -> None:
    by_name = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}
    by_label = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}
    spec = pod(affinity=requiring(by_name, by_label))
    assert scheduling.matches_node_affinity(spec, node("b"))
    assert scheduling.matches_node_affinity(spec, node("c", {"zone": "z1"}))
    assert not scheduling.matches_node_affinity(spec, node("c"))
    assert not scheduling.matches_node_affinity(pod(affinity=requiring({})), node("b"))


def test_tolerations() -> None:
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    assert scheduling.tolerates({"key": "k", "operator": "Equal", "value": "v"}, taint)
    assert scheduling.tolerates({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, taint)
    assert scheduling.tolerates({"operator": "Exists"}, taint)
    assert not scheduling.tolerates({"key": "k", "value": "w"}, taint)
    assert not scheduling.tolerates(
        {"key": "k", "operator": "Exists", "effect": "NoExecute"}, taint
    )


def test_prefer_no_schedule_taints_do_not_filter() -> None:
    soft = node("n", taints=[{"key": "k", "effect": "PreferNoSchedule"}])
    assert scheduling.filter_node(pod(), soft, []) == []


def test_filter_reasons_are_worded_like_kube_scheduler() -> None:
    tainted = node(
        "t",
        taints=[
            {"key": "virtual-node.liqo.io/not-allowed", "value": "true", "effect": "NoExecute"}
        ],
    )
    assert scheduling.filter_node(pod(), tainted, []) == [
        "node(s) had untolerated taint {virtual-node.liqo.io/not-allowed: true}"
    ]
    assert scheduling.filter_node(pod(), node("u", unschedulable=True), []) == [
        "node(s) were unschedulable"
    ]
    tolerant = pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}])
    assert scheduling.filter_node(tolerant, node("u", unschedulable=True), []) == []
    assert scheduling.filter_node(pod(nodeSelector={"a": "b"}), node("n"), []) == [
        "node(s) didn't match Pod's node affinity/selector"
    ]


def test_resources_sum_requests_of_pods_on_the_node() -> None:
    def wants(cpu: str, gpu: int = 0) -> dict[str, Any]:
        requests: dict[str, Any] = {"cpu": cpu}
        if gpu:
            requests["example.com/gpu"] = str(gpu)
        return pod(containers=[{"name": "c", "resources": {"requests": requests}}])

    target = node("n")
    assert scheduling.filter_node(wants("1500m"), target, [wants("500m")]) == []
    assert scheduling.filter_node(wants("1600m"), target, [wants("500m")]) == ["Insufficient cpu"]
    assert scheduling.filter_node(wants("1", gpu=1), target, [wants("1", gpu=1)]) == [
        "Insufficient example.com/gpu"
    ]
    assert scheduling.filter_node(wants("0"), target, [pod(), pod(), pod()]) == [
        "Insufficient pods"
    ]


def test_limits_stand_in_for_requests_and_init_containers_take_the_max() -> None:
    spec = pod(
        containers=[
            {"name": "a", "resources": {"limits": {"cpu": "1"}}},
            {"name": "b", "resources": {"requests": {"cpu": "250m"}}},
        ],
        initContainers=[{"name": "i", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}}],
    )
    requests = scheduling.pod_requests(spec)
    assert requests["cpu"] == 2
    assert requests["memory"] == 2**30


def test_unschedulable_message() -> None:
    message = scheduling.unschedulable_message(
        3, Counter({"Insufficient cpu": 2, "node(s) didn't match Pod's node affinity/selector": 1})
    )
    assert message.startswith(
        "0/3 nodes are available: 2 Insufficient cpu, "
        "1 node(s) didn't match Pod's node affinity/selector."
    )


def test_least_allocated_score_prefers_emptier_nodes() -> None:
    busy = pod(containers=[{"name": "c", "resources": {"requests": {"cpu": "1"}}}])
    assert scheduling.score_node(pod(), node("a"), []) > scheduling.score_node(
        pod(), node("b"), [busy]
    )
