"""Pure helpers of the workload controllers."""

from __future__ import annotations

from typing import Any

from liqo_core.sandbox.daemonsets import node_eligible, pin_to_node, target_node
from liqo_core.sandbox.deployments import new_replicaset
from liqo_core.sandbox.nodes import (
    NodeSpec,
    keep_transition_times,
    node_object,
    node_status,
)
from liqo_core.sandbox.ownership import (
    controller_of,
    pod_from_template,
    selector_matches,
    set_condition,
    template_hash,
)
from liqo_core.sandbox.replicasets import deletion_order

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
}
DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
}


def test_template_hash_is_stable_dns_safe_and_changes_with_the_template() -> None:
    first = template_hash(TEMPLATE)
    assert first == template_hash({"spec": TEMPLATE["spec"], "metadata": TEMPLATE["metadata"]})
    assert first.isalnum() and first.islower() and 1 <= len(first) <= 10
    changed = {**TEMPLATE, "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}
    assert template_hash(changed) != first
    assert template_hash(TEMPLATE, collision_count=1) != first


def test_new_replicaset_carries_hash_label_selector_and_controller_ref() -> None:
    rs = new_replicaset(DEPLOYMENT, "abc", 2)
    assert rs["metadata"]["name"] == "web-abc"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": "abc"}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "abc"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    ref = controller_of(rs)
    assert ref is not None and ref["uid"] == "u1" and ref["kind"] == "Deployment"
    assert "pod-template-hash" not in DEPLOYMENT["spec"]["template"]["metadata"]["labels"]


def test_pod_from_template() -> None:
    pod = pod_from_template(TEMPLATE, DEPLOYMENT, "web-", {"extra": "1"})
    assert pod["metadata"]["generateName"] == "web-"
    assert pod["metadata"]["labels"] == {"app": "web", "extra": "1"}
    assert pod["metadata"]["ownerReferences"][0]["controller"] is True


def test_selector_matches() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}],
    }
    assert selector_matches(selector, {"app": "web"})
    assert not selector_matches(selector, {"app": "web", "tier": "db"})
    assert selector_matches({}, {"anything": "x"})


def test_set_condition_moves_transition_time_only_on_status_change() -> None:
    conditions = set_condition([], "Available", "False", "R", "m")
    conditions[0]["lastTransitionTime"] = "then"
    same = set_condition(conditions, "Available", "False", "R2", "m2")
    assert same[0]["lastTransitionTime"] == "then" and same[0]["reason"] == "R2"
    flipped = set_condition(conditions, "Available", "True", "R", "m")
    assert flipped[0]["lastTransitionTime"] != "then"


def test_scale_down_deletes_unbound_then_unready_then_newest() -> None:
    def pod(name: str, bound: bool, ready: bool, created: str) -> dict[str, Any]:
        status = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
        return {
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": {"nodeName": "n"} if bound else {},
            "status": status,
        }

    pods = [
        pod("old-ready", True, True, "2024-01-01T00:00:00Z"),
        pod("new-ready", True, True, "2024-01-02T00:00:00Z"),
        pod("unready", True, False, "2024-01-01T00:00:00Z"),
        pod("pending", False, False, "2024-01-01T00:00:00Z"),
    ]
    order = [p["metadata"]["name"] for p in sorted(pods, key=deletion_order)]
    assert order == ["pending", "unready", "new-ready", "old-ready"]


def test_daemonset_eligibility_and_pinning() -> None:
    control_plane = {
        "metadata": {"name": "cp", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {
            "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
        },
    }
    cordoned = {"metadata": {"name": "w", "labels": {}}, "spec": {"unschedulable": True}}
    assert not node_eligible(TEMPLATE, control_plane)
    assert node_eligible(TEMPLATE, cordoned)
    tolerant = {
        **TEMPLATE,
        "spec": {**TEMPLATE["spec"], "tolerations": [{"operator": "Exists"}]},
    }
    assert node_eligible(tolerant, control_plane)
    pod = pin_to_node(pod_from_template(TEMPLATE, DEPLOYMENT, "ds-"), "w")
    assert target_node(pod) == "w"
    terms = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert terms["nodeSelectorTerms"] == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["w"]}]}
    ]


def test_node_heartbeat_keeps_transition_times_while_status_holds() -> None:
    spec = NodeSpec(name="n", pod_cidr="10.1.0.0/24", internal_ip="127.1.0.2", control_plane=True)
    node = node_object(spec)
    assert node["spec"]["podCIDR"] == "10.1.0.0/24"
    assert node["spec"]["taints"][0]["key"] == "node-role.kubernetes.io/control-plane"
    previous = [
        {"type": "Ready", "status": "True", "lastTransitionTime": "t0"},
        {"type": "MemoryPressure", "status": "True", "lastTransitionTime": "t0"},
    ]
    kept = {c["type"]: c for c in keep_transition_times(node_status(spec)["conditions"], previous)}
    assert kept["Ready"]["lastTransitionTime"] == "t0"
    assert kept["MemoryPressure"]["lastTransitionTime"] != "t0"
