"""Pod forging: the ShadowPod of a local pod and the local status of a remote pod."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from liqo_offloading.virtualkubelet.options import CIDRPair, RemoteCIDRs
from liqo_offloading.virtualkubelet.reflection.forge import ForgingOptions, Identity
from liqo_offloading.virtualkubelet.reflection.podforge import (
    infer_additional_restarts,
    local_pod_status,
    not_ready,
    rejected_pod_status,
    remap_address,
    remote_configmap_name,
    remote_shadow_pod,
)

IDENTITY = Identity("consumer-abcdef", "provider-1", "vn-1")
NOW = "2026-01-01T00:00:00Z"


def local_pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "nodeName": "vn-1",
        "schedulerName": "default-scheduler",
        "priority": 1000,
        "priorityClassName": "high",
        "preemptionPolicy": "PreemptLowerPriority",
        "nodeSelector": {"liqo.io/type": "virtual-node"},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}},
        "hostNetwork": True,
        "hostPID": True,
        "serviceAccountName": "worker",
        "serviceAccount": "worker",
        "terminationGracePeriodSeconds": 45,
        "containers": [{"name": "app", "image": "app:1"}],
        "tolerations": [
            {
                "key": "virtual-node.liqo.io/not-allowed",
                "operator": "Exists",
                "effect": "NoExecute",
            },
            {"key": "dedicated", "operator": "Equal", "value": "x", "effect": "NoSchedule"},
        ],
        "volumes": [
            {"name": "data", "emptyDir": {}},
            {
                "name": "kube-api-access-abcde",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt"}]}},
                        {"downwardAPI": {"items": []}},
                    ]
                },
            },
        ],
    }
    base.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-1",
            "namespace": "apps",
            "uid": "u-1",
            "labels": {"app": "web", "team": "a", "liqo.io/shadowPod": "true"},
            "annotations": {"note": "kept", "secret-note": "dropped"},
        },
        "spec": base,
    }


PATCH = ForgingOptions(
    labels_not_reflected=("team",),
    annotations_not_reflected=("secret-note",),
    node_selector={"zone": "eu"},
    tolerations=({"key": "gpu", "operator": "Exists"},),
    affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}]}},
    runtime_class_name="kata",
)


def test_the_shadow_pod_drops_scheduling_and_host_namespaces() -> None:
    shadow = remote_shadow_pod(local_pod(), "apps-consumer", PATCH, IDENTITY)
    assert shadow["apiVersion"] == "offloading.liqo.io/v1beta1" and shadow["kind"] == "ShadowPod"
    meta = shadow["metadata"]
    assert (meta["name"], meta["namespace"]) == ("web-1", "apps-consumer")
    assert meta["labels"] == {
        "app": "web",
        "offloading.liqo.io/nodename": "vn-1",
        "offloading.liqo.io/origin": "consumer-abcdef",
        "offloading.liqo.io/destination": "provider-1",
    }
    assert meta["annotations"] == {"note": "kept"}
    spec = shadow["spec"]["pod"]
    for dropped in (
        "nodeName",
        "schedulerName",
        "priority",
        "priorityClassName",
        "preemptionPolicy",
        "serviceAccountName",
        "serviceAccount",
    ):
        assert dropped not in spec, dropped
    assert spec["hostNetwork"] is spec["hostPID"] is spec["hostIPC"] is False
    assert spec["automountServiceAccountToken"] is False
    assert spec["terminationGracePeriodSeconds"] == 45
    assert spec["containers"] == [{"name": "app", "image": "app:1"}]
    # Offloading patch: node selector and tolerations replace/extend, node affinity added.
    assert spec["nodeSelector"] == {"zone": "eu"}
    assert spec["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "x", "effect": "NoSchedule"},
        {"key": "gpu", "operator": "Exists"},
    ]
    assert spec["affinity"] == {
        "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}]}
    }
    assert spec["runtimeClassName"] == "kata"
    # Tokens are not reflected yet: the projection loses its token, the root CA is renamed.
    [_, api] = spec["volumes"]
    assert api["projected"]["sources"] == [
        {"configMap": {"name": "kube-root-ca.crt.consu", "items": [{"key": "ca.crt"}]}},
        {"downwardAPI": {"items": []}},
    ]


def test_the_local_pod_is_not_changed() -> None:
    pod = local_pod()
    before = copy.deepcopy(pod)
    remote_shadow_pod(pod, "x", PATCH, IDENTITY)
    assert pod == before


def test_remote_api_server_support_keeps_the_service_account() -> None:
    pod = local_pod()
    pod["metadata"]["annotations"] = {
        "liqo.io/api-server-support": "remote",
        "liqo.io/remote-service-account-name": "remote-worker",
    }
    spec = remote_shadow_pod(pod, "x", ForgingOptions(), IDENTITY)["spec"]["pod"]
    assert spec["serviceAccountName"] == "remote-worker"
    assert spec["automountServiceAccountToken"] is True
    assert spec["volumes"] == pod["spec"]["volumes"]


@pytest.mark.parametrize(
    ("annotation", "own", "patched", "expected"),
    [
        ("gvisor", "runc", "kata", "gvisor"),
        (None, "runc", "kata", "runc"),
        (None, "liqo", "kata", "kata"),
        (None, None, "liqo", None),
    ],
)
def test_runtime_class_priority(
    annotation: str | None, own: str | None, patched: str | None, expected: str | None
) -> None:
    pod = local_pod(runtimeClassName=own) if own else local_pod()
    if annotation:
        pod["metadata"]["annotations"]["liqo.io/remote-runtime-class-name"] = annotation
    spec = remote_shadow_pod(pod, "x", ForgingOptions(runtime_class_name=patched), IDENTITY)
    assert spec["spec"]["pod"].get("runtimeClassName") == expected


def test_anti_affinity_presets() -> None:
    pod = local_pod()
    pod["metadata"]["labels"]["pod-template-hash"] = "abc"
    pod["metadata"]["annotations"]["liqo.io/anti-affinity-preset"] = "hard"
    spec = remote_shadow_pod(pod, "x", PATCH, IDENTITY)["spec"]["pod"]
    [term] = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == {
        "app": "web",
        "offloading.liqo.io/nodename": "vn-1",
    }
    # The patch's node affinity stays next to the preset.
    assert "nodeAffinity" in spec["affinity"]

    pod["metadata"]["annotations"]["liqo.io/anti-affinity-preset"] = "soft"
    pod["metadata"]["annotations"]["liqo.io/anti-affinity-labels"] = "app"
    spec = remote_shadow_pod(pod, "x", ForgingOptions(), IDENTITY)["spec"]["pod"]
    [weighted] = spec["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert weighted["podAffinityTerm"]["labelSelector"]["matchLabels"] == {"app": "web"}

    anti = {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "zone"}]}
    pod = local_pod(affinity={"podAntiAffinity": anti})
    pod["metadata"]["annotations"]["liqo.io/anti-affinity-preset"] = "propagate"
    spec = remote_shadow_pod(pod, "x", ForgingOptions(), IDENTITY)["spec"]["pod"]
    assert spec["affinity"] == {"podAntiAffinity": anti}


def test_root_ca_configmap_name() -> None:
    assert remote_configmap_name("kube-root-ca.crt", "abcdefgh") == "kube-root-ca.crt.abcde"
    assert remote_configmap_name("kube-root-ca.crt", "abcd-") == "kube-root-ca.crt.abcd-a"
    assert remote_configmap_name("settings", "abcdefgh") == "settings"


def remote_status() -> dict[str, Any]:
    return {
        "phase": "Running",
        "podIP": "10.1.2.3",
        "podIPs": [{"ip": "10.1.2.3"}],
        "hostIP": "192.168.0.9",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "app", "ready": True, "restartCount": 2}],
    }


def test_local_status_mirrors_the_remote_one() -> None:
    status = local_pod_status(
        remote_status(), translate=lambda ip: ip, restarts=3, node_ip="10.0.0.7"
    )
    assert status["phase"] == "Running"
    assert status["podIP"] == "10.1.2.3" and status["podIPs"] == [{"ip": "10.1.2.3"}]
    assert status["hostIP"] == "10.0.0.7" and status["hostIPs"] == [{"ip": "10.0.0.7"}]
    assert status["containerStatuses"][0]["restartCount"] == 5
    assert status["conditions"] == [{"type": "Ready", "status": "True"}]

    hidden = local_pod_status(
        remote_status(), translate=lambda ip: ip, restarts=0, node_ip="10.0.0.7", hide_ip=True
    )
    assert "podIP" not in hidden and "podIPs" not in hidden

    remapped = local_pod_status(
        remote_status(), translate=lambda ip: "10.71.2.3", restarts=0, node_ip=""
    )
    assert remapped["podIP"] == "10.71.2.3" and "hostIP" not in remapped


def test_remap_moves_addresses_into_the_remapped_cidr() -> None:
    cidrs = RemoteCIDRs(
        pod=CIDRPair(("10.1.0.0/16",), ("10.71.0.0/16",)),
        external=CIDRPair(("10.9.0.0/16",), ("10.79.0.0/16",)),
    )
    assert remap_address("10.1.2.3", cidrs) == "10.71.2.3"
    assert remap_address("10.9.0.1", cidrs) == "10.79.0.1"
    assert remap_address("172.16.0.1", cidrs) == "172.16.0.1"
    assert remap_address("10.1.2.3", None) == "10.1.2.3"


def test_rejection_turns_true_conditions_false_and_terminates_containers() -> None:
    status = {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "False"},
        ],
        "containerStatuses": [{"name": "app", "ready": True, "state": {"running": {}}}],
    }
    failed = rejected_pod_status(status, "Failed", "OffloadingAborted", NOW)
    assert (failed["phase"], failed["reason"]) == ("Failed", "OffloadingAborted")
    assert [c["status"] for c in failed["conditions"]] == ["False", "False", "False"]
    assert failed["conditions"][0]["reason"] == "OffloadingAborted"
    assert failed["conditions"][2] == {"type": "Initialized", "status": "False"}
    [container] = failed["containerStatuses"]
    assert container["ready"] is False
    assert container["state"] == {"terminated": {"exitCode": 1, "reason": "OffloadingAborted"}}
    # Idempotent: a second pass changes nothing.
    assert rejected_pod_status(failed, "Failed", "OffloadingAborted", "later") == failed

    pending = rejected_pod_status({"phase": "Pending"}, "Pending", "OffloadingBackOff", NOW)
    assert pending == {"phase": "Pending", "reason": "OffloadingBackOff"}


def test_not_ready_forces_the_ready_condition() -> None:
    status = not_ready({"conditions": [{"type": "Ready", "status": "True"}]}, NOW)
    assert status["conditions"] == [{"type": "Ready", "status": "False"}]
    assert not_ready({}, NOW)["conditions"][0]["status"] == "False"


def test_restarts_inferred_after_a_restart_of_the_virtual_kubelet() -> None:
    local = {"containerStatuses": [{"name": "app", "restartCount": 4}]}
    assert (
        infer_additional_restarts(
            local, {"containerStatuses": [{"name": "app", "restartCount": 1}]}
        )
        == 3
    )
    assert (
        infer_additional_restarts(
            local, {"containerStatuses": [{"name": "app", "restartCount": 6}]}
        )
        == 0
    )
    assert infer_additional_restarts({}, remote_status()) == 0
    assert infer_additional_restarts(local, {"containerStatuses": [{"name": "x"}]}) == 0
