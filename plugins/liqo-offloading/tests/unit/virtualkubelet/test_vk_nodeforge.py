"""The virtual Node: labels, taints, status and the Ready rule."""

from __future__ import annotations

from typing import Any

import pytest
from liqo_offloading.virtualkubelet.node import api_server_state, status_differs, status_patch
from liqo_offloading.virtualkubelet.nodeforge import (
    NOT_ALLOWED_TAINT,
    NodeHealth,
    base_labels,
    capacity,
    foreign_cluster_health,
    merge_owned,
    merge_taints,
    node_status,
    stamp_conditions,
    virtual_node_metadata,
    without_times,
)
from liqo_offloading.virtualkubelet.options import VirtualKubeletOptions

OPTIONS = VirtualKubeletOptions(
    foreign_cluster_id="provider-1",
    kubeconfig_secret="kc",
    home_cluster_id="consumer-1",
    node_name="vn-1",
    node_ip="10.0.0.7",
    node_extra_labels={"extra": "yes"},
)
HARD = {"cpu": "4", "memory": "8Gi", "pods": "110"}


def vn(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "vn-1"}, "spec": {"resourceQuota": {"hard": HARD}, **spec}}


def test_labels_of_every_virtual_node() -> None:
    assert base_labels(OPTIONS) == {
        "kubernetes.io/hostname": "vn-1",
        "kubernetes.io/role": "agent",
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "liqo.io/type": "virtual-node",
        "type": "virtual-kubelet",
        "liqo.io/remote-cluster-id": "provider-1",
        "node.kubernetes.io/exclude-from-external-load-balancers": "true",
        "alpha.service-controller.kubernetes.io/exclude-balancer": "true",
        "extra": "yes",
    }


def test_virtual_node_metadata_adds_the_not_allowed_taint() -> None:
    taint = {"key": "gpu", "value": "true", "effect": "NoSchedule"}
    meta = virtual_node_metadata(vn(labels={"zone": "eu"}, annotations={"a": "b"}, taints=[taint]))
    assert meta.labels == {"zone": "eu", "storage.liqo.io/available": "false"}
    assert meta.annotations == {"a": "b"}
    assert meta.taints == [taint, NOT_ALLOWED_TAINT]
    assert NOT_ALLOWED_TAINT == {
        "key": "virtual-node.liqo.io/not-allowed",
        "value": "true",
        "effect": "NoExecute",
    }
    stored = virtual_node_metadata(vn(storageClasses=[{"storageClassName": "x"}]))
    assert stored.labels["storage.liqo.io/available"] == "true"


def test_owned_keys_follow_the_virtual_node_and_others_stay() -> None:
    current = {"zone": "eu", "old": "1", "admin": "set-by-hand"}
    assert merge_owned(current, {"zone": "eu", "old": "1"}, {"zone": "us"}) == {
        "zone": "us",
        "admin": "set-by-hand",
    }
    mine, theirs = {"key": "a", "effect": "NoSchedule"}, {"key": "b", "effect": "NoExecute"}
    new = {"key": "c", "effect": "NoSchedule"}
    assert merge_taints([mine, theirs], [mine], [new]) == [theirs, new]
    assert merge_taints([new], [], [new]) == [new]


def test_capacity_is_the_quota_in_canonical_form() -> None:
    assert capacity(vn()) == {"cpu": "4", "memory": "8Gi", "pods": "110"}
    assert capacity({"spec": {"resourceQuota": {"hard": {"cpu": "1000m", "x": "bad"}}}}) == {
        "cpu": "1"
    }
    assert capacity(None) == {}


@pytest.mark.parametrize(
    ("health", "ready"),
    [
        (NodeHealth(HARD, networking_enabled=True, network_ready=True), True),
        (NodeHealth(HARD, networking_enabled=True, network_ready=False), False),
        # Unknown module state (ForeignCluster not reconciled yet): the network counts.
        (NodeHealth(HARD, networking_enabled=None, network_ready=False), False),
        (NodeHealth(HARD, networking_enabled=False, network_ready=False), True),
        (NodeHealth(HARD, check_network=False, network_ready=False), True),
        (NodeHealth({"cpu": "4"}, check_network=False), False),
        (NodeHealth({"cpu": "0", "memory": "1Gi"}, check_network=False), False),
        (NodeHealth(HARD, check_network=False, api_server_error="timeout"), False),
    ],
)
def test_the_ready_rule(health: NodeHealth, ready: bool) -> None:
    assert health.ready is ready


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_node_status() -> None:
    health = NodeHealth(HARD, networking_enabled=True, network_ready=True)
    images = [{"names": ["app:1"], "sizeBytes": 10}]
    status = node_status(OPTIONS, vn(images=images), health, "v1.30.0")
    assert status["capacity"] == status["allocatable"] == HARD
    assert status["addresses"] == [{"type": "InternalIP", "address": "10.0.0.7"}]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert status["nodeInfo"] == {
        "kubeletVersion": "v1.30.0",
        "architecture": "amd64",
        "operatingSystem": "Linux",
    }
    assert status["images"] == images
    found = conditions(status)
    assert found["Ready"]["status"] == "True" and found["Ready"]["reason"] == "KubeletReady"
    for kind in ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"):
        assert found[kind]["status"] == "False", kind
    assert found["NetworkUnavailable"]["reason"] == "LiqoNetworkingUp"

    starving = conditions(node_status(OPTIONS, vn(resourceQuota={}), NodeHealth({}), "v"))
    assert starving["Ready"]["status"] == "False"
    assert starving["MemoryPressure"]["reason"] == "RemoteClusterHasMemoryPressure"
    unchecked = NodeHealth(HARD, check_network=False)
    assert "NetworkUnavailable" not in conditions(node_status(OPTIONS, vn(), unchecked, "v"))

    unreachable = NodeHealth(HARD, check_network=False, api_server_error="HTTP 503")
    ready = conditions(node_status(OPTIONS, vn(), unreachable, "v"))["Ready"]
    assert ready["status"] == "False" and "HTTP 503" in ready["message"]


def test_transition_times_move_only_with_the_status() -> None:
    previous = [
        {"type": "Ready", "status": "True", "lastTransitionTime": "t0", "lastHeartbeatTime": "t0"},
        {"type": "DiskPressure", "status": "True", "lastTransitionTime": "t0"},
    ]
    desired = [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}]
    ready, disk = stamp_conditions(desired, previous, "t1")
    assert (ready["lastTransitionTime"], ready["lastHeartbeatTime"]) == ("t0", "t1")
    assert disk["lastTransitionTime"] == "t1"
    assert without_times([ready]) == [{"type": "Ready", "status": "True"}]


def test_status_patch_removes_dropped_resources() -> None:
    live = {"capacity": {"cpu": "4", "nvidia.com/gpu": "1"}, "allocatable": {"cpu": "4"}}
    patch = status_patch(live, {"capacity": {"cpu": "2"}, "allocatable": {"cpu": "2"}})
    assert patch["capacity"] == {"cpu": "2", "nvidia.com/gpu": None}
    assert status_differs(live, {"capacity": {"cpu": "4", "nvidia.com/gpu": "1"}}) is False
    assert status_differs(live, {"capacity": {"cpu": "2"}}) is True
    times = {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "t"}]}
    assert status_differs(times, {"conditions": [{"type": "Ready", "status": "True"}]}) is False


def test_foreign_cluster_readings() -> None:
    connected = {"type": "NetworkConnectionStatus", "status": "Established"}
    fc = {
        "status": {
            "observedGeneration": 1,
            "modules": {"networking": {"enabled": True, "conditions": [connected]}},
            "conditions": [{"type": "APIServerStatus", "status": "Established"}],
        }
    }
    assert foreign_cluster_health(fc) == (True, True)
    assert api_server_state(fc) == "Established"
    fresh = {"status": {"modules": {"networking": {"enabled": False}}}}
    assert foreign_cluster_health(fresh) == (None, False)  # not reconciled yet
    assert foreign_cluster_health(None) == (None, False)
    assert api_server_state(None) == "None"
