"""Pod conditions the sandbox kubelets write."""

from __future__ import annotations

from liqo_core.sandbox.podstatus import conditions


def test_kubelet_conditions_keep_conditions_it_does_not_own():
    gate = {"type": "example.com/gate", "status": "True", "lastTransitionTime": "t0"}
    old = [{"type": "Ready", "status": "False", "lastTransitionTime": "t1"}, gate]
    out = conditions(True, True, True, old)
    by_type = {c["type"]: c for c in out}
    assert by_type["example.com/gate"] == gate
    assert by_type["Ready"]["status"] == "True"
    assert by_type["Ready"]["lastTransitionTime"] != "t1"
    assert [c["type"] for c in out][:5] == [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
        "PodScheduled",
    ]
