"""VirtualKubelet and Node conditions, and the merge patches the controller writes."""

from __future__ import annotations

from liqo_offloading.virtualnode import conditions
from liqo_offloading.virtualnode.conditions import State
from liqo_offloading.virtualnode.kube import merge_diff


def test_the_kubelet_runs_once_a_replica_is_ready() -> None:
    assert conditions.kubelet_state(None).status == "Creating"
    assert conditions.kubelet_state({"status": {"replicas": 1}}).status == "Creating"
    assert conditions.kubelet_state({"status": {"readyReplicas": 1}}).status == "Running"


def test_the_node_runs_once_ready_and_is_none_when_not_wanted() -> None:
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    not_ready = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    assert conditions.node_state(ready, create_node=False).status == "None"
    assert conditions.node_state(None, create_node=True).status == "Creating"
    assert conditions.node_state(not_ready, create_node=True).status == "Creating"
    assert conditions.node_state(ready, create_node=True).status == "Running"


def test_a_transition_time_changes_with_the_status_only() -> None:
    first = conditions.with_condition([], "Node", State("Creating", "r", "m"), "t1")
    assert first == [
        {
            "type": "Node",
            "status": "Creating",
            "lastTransitionTime": "t1",
            "reason": "r",
            "message": "m",
        }
    ]
    same = conditions.with_condition(first, "Node", State("Creating", "r2", "m2"), "t2")
    assert same[0]["lastTransitionTime"] == "t1"
    assert same[0]["reason"] == "r2"
    moved = conditions.with_condition(same, "Node", State("Running", "r", "m"), "t3")
    assert moved[0]["lastTransitionTime"] == "t3"
    both = conditions.with_condition(moved, "VirtualKubelet", State("Running", "r", "m"), "t4")
    assert [c["type"] for c in both] == ["VirtualKubelet", "Node"]
    assert conditions.status_of(both, "Node") == "Running"


def test_merge_diff_removes_keys_of_replaced_maps() -> None:
    live = {"a": 1, "m": {"x": "1", "y": "2"}, "untouched": True}
    assert merge_diff(live, {"a": 1, "m": {"x": "1", "y": "2"}}) == {}
    assert merge_diff(live, {"a": 2, "m": {"x": "1"}}) == {"a": 2, "m": {"y": None}}
    assert merge_diff(live, {"m": None}) == {"m": None}
    assert merge_diff(None, {"n": {"k": "v"}}) == {"n": {"k": "v"}}
