"""Sandbox clusters behave like clusters: nodes, Deployments, scheduling, DaemonSets.

Everything is asserted through the API (kubectl), so the tests also run against real
clusters (LIQO_TEST_KUBECONFIGS).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from liqo_core.testing.clusters import ClusterHandle
from liqo_core.testing.kubectl import apply, get_json, wait_for
from liqo_core.testing.sandbox_fixtures import SandboxClusters

pytestmark = pytest.mark.e2e


@pytest.fixture
def cluster(sandbox: SandboxClusters) -> ClusterHandle:
    return sandbox.clusters[0]


def pods(
    cluster: ClusterHandle, namespace: str, selector: str | None = None
) -> list[dict[str, Any]]:
    args = ["pods", "-n", namespace] + (["-l", selector] if selector else [])
    return list(get_json(cluster, *args)["items"])


def pod(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "c", "image": "registry.k8s.io/pause:3.9"}])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def scheduled_condition(cluster: ClusterHandle, ns: str, name: str) -> dict[str, Any] | None:
    return condition(get_json(cluster, "pod", "-n", ns, name), "PodScheduled")


def daemonset_ready(
    cluster: ClusterHandle, ns: str, name: str, count: int
) -> dict[str, Any] | None:
    status = get_json(cluster, "daemonset", "-n", ns, name).get("status") or {}
    return dict(status) if status.get("numberReady") == count else None


def test_nodes_are_ready_with_pod_cidrs_and_heartbeats(sandbox: SandboxClusters) -> None:
    cidrs = []
    for cluster in sandbox.clusters:
        nodes = get_json(cluster, "nodes")["items"]
        assert len(nodes) >= 2
        info = get_json(cluster, "configmap", "-n", "kube-system", "sandbox-cluster-info")
        pod_cidr = ipaddress.IPv4Network(info["data"]["podCIDR"])
        cidrs.append(pod_cidr)
        for node in nodes:
            assert condition(node, "Ready")["status"] == "True"  # type: ignore[index]
            assert ipaddress.IPv4Network(node["spec"]["podCIDR"]).subnet_of(pod_cidr)
            assert node["status"]["allocatable"]["pods"]
            lease = get_json(cluster, "lease", "-n", "kube-node-lease", node["metadata"]["name"])
            assert lease["spec"]["holderIdentity"] == node["metadata"]["name"]
    assert len(set(cidrs)) == len(cidrs)


def test_deployment_gets_running_pods_with_ips_and_scales(
    cluster: ClusterHandle, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "10m"}}}
                    ]
                },
            },
        },
    }
    apply(cluster, deployment)
    status = wait_for(
        lambda: (
            (d := get_json(cluster, "deployment", "-n", ns, "web")["status"]).get(
                "availableReplicas"
            )
            == 3
            and d
        ),
        what="3 available replicas",
    )
    assert status["readyReplicas"] == status["updatedReplicas"] == status["replicas"] == 3
    assert status["observedGeneration"] >= 1
    assert condition({"status": status}, "Available")["status"] == "True"  # type: ignore[index]
    assert condition({"status": status}, "Progressing")["reason"] == "NewReplicaSetAvailable"  # type: ignore[index]
    replicasets = get_json(cluster, "replicasets", "-n", ns)["items"]
    assert len(replicasets) == 1
    rs = replicasets[0]
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["ownerReferences"][0]["controller"] is True
    nodes = {n["metadata"]["name"]: n for n in get_json(cluster, "nodes")["items"]}
    running = pods(cluster, ns, "app=web")
    assert len(running) == 3
    addresses = set()
    for item in running:
        assert item["status"]["phase"] == "Running"
        assert item["metadata"]["labels"]["pod-template-hash"] == pod_hash
        ref = item["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["controller"]) == (
            "ReplicaSet",
            rs["metadata"]["name"],
            True,
        )
        node_cidr = ipaddress.ip_network(nodes[item["spec"]["nodeName"]]["spec"]["podCIDR"])
        assert ipaddress.ip_address(item["status"]["podIP"]) in node_cidr
        assert item["status"]["containerStatuses"][0]["ready"] is True
        assert item["status"]["startTime"]
        addresses.add(item["status"]["podIP"])
    assert len(addresses) == 3

    cluster.kubectl(
        "patch", "deployment", "web", "-n", ns, "--type=merge", "-p", '{"spec":{"replicas":1}}'
    )
    wait_for(
        lambda: (
            len(pods(cluster, ns, "app=web")) == 1
            and get_json(cluster, "deployment", "-n", ns, "web")["status"].get("replicas") == 1
        ),
        what="scale down to 1",
    )

    patch = '{"spec":{"template":{"metadata":{"labels":{"app":"web","rev":"2"}}}}}'
    cluster.kubectl("patch", "deployment", "web", "-n", ns, "--type=merge", "-p", patch)

    def rolled_out() -> list[dict[str, Any]] | None:
        sets = get_json(cluster, "replicasets", "-n", ns)["items"]
        new = [r for r in sets if r["metadata"]["name"] != rs["metadata"]["name"]]
        old = [r for r in sets if r["metadata"]["name"] == rs["metadata"]["name"]]
        if len(new) != 1 or old[0]["spec"]["replicas"] != 0:
            return None
        live = pods(cluster, ns, "app=web")
        if len(live) != 1 or live[0]["metadata"]["labels"].get("rev") != "2":
            return None
        return list(sets)

    sets = wait_for(rolled_out, what="rollout of the new template")
    revisions = sorted(
        r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in sets
    )
    assert revisions == ["1", "2"]
    status = get_json(cluster, "deployment", "-n", ns, "web")["status"]
    assert status["updatedReplicas"] == status["availableReplicas"] == 1


def test_scheduler_honours_selectors_taints_and_capacity(
    cluster: ClusterHandle, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    nodes = get_json(cluster, "nodes")["items"]
    control_plane = next(
        n["metadata"]["name"]
        for n in nodes
        if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"]
    )
    worker = next(n["metadata"]["name"] for n in nodes if n["metadata"]["name"] != control_plane)
    label = f"sandbox-test-{secrets.token_hex(3)}"
    cluster.kubectl("label", "node", worker, f"{label}=yes")
    try:
        apply(
            cluster,
            pod(ns, "selected", nodeSelector={label: "yes"}),
            pod(ns, "nowhere", nodeSelector={label: "no"}),
            pod(
                ns,
                "huge",
                containers=[
                    {"name": "c", "image": "x", "resources": {"requests": {"cpu": "1000"}}}
                ],
            ),
            pod(
                ns,
                "on-control-plane",
                tolerations=[
                    {
                        "key": "node-role.kubernetes.io/control-plane",
                        "operator": "Exists",
                        "effect": "NoSchedule",
                    }
                ],
                affinity={
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "node-role.kubernetes.io/control-plane",
                                            "operator": "Exists",
                                        }
                                    ]
                                }
                            ]
                        }
                    }
                },
            ),
            pod(
                ns,
                "not-tolerated",
                nodeSelector={"node-role.kubernetes.io/control-plane": ""},
            ),
        )

        def placed(name: str) -> str:
            return str(get_json(cluster, "pod", "-n", ns, name)["spec"].get("nodeName", ""))

        assert wait_for(lambda: placed("selected"), what="selected bound") == worker
        assert (
            wait_for(lambda: placed("on-control-plane"), what="control-plane pod bound")
            == control_plane
        )
        for name, reason in [
            ("nowhere", "didn't match Pod's node affinity/selector"),
            ("huge", "Insufficient cpu"),
            ("not-tolerated", "untolerated taint {node-role.kubernetes.io/control-plane: }"),
        ]:
            cond = wait_for(
                functools.partial(scheduled_condition, cluster, ns, name),
                what=f"{name} PodScheduled condition",
            )
            assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
            assert reason in cond["message"] and cond["message"].startswith(
                f"0/{len(nodes)} nodes are available"
            )
            current = get_json(cluster, "pod", "-n", ns, name)
            assert current["status"]["phase"] == "Pending" and not current["spec"].get("nodeName")
    finally:
        cluster.kubectl("label", "node", worker, f"{label}-")


@pytest.fixture
def cordoned_worker(cluster: ClusterHandle) -> Iterator[str]:
    nodes = get_json(cluster, "nodes")["items"]
    worker = next(
        n["metadata"]["name"]
        for n in nodes
        if "node-role.kubernetes.io/control-plane" not in n["metadata"]["labels"]
    )
    cluster.kubectl(
        "patch", "node", worker, "--type=merge", "-p", '{"spec":{"unschedulable":true}}'
    )
    try:
        yield worker
    finally:
        cluster.kubectl(
            "patch", "node", worker, "--type=merge", "-p", '{"spec":{"unschedulable":false}}'
        )


def test_cordoned_node_gets_no_new_pods(
    cluster: ClusterHandle, sandbox_namespace: str, cordoned_worker: str
) -> None:
    apply(cluster, pod(sandbox_namespace, "waiting"))
    cond = wait_for(
        lambda: condition(
            get_json(cluster, "pod", "-n", sandbox_namespace, "waiting"), "PodScheduled"
        ),
        what="PodScheduled condition",
    )
    assert cond["status"] == "False" and "node(s) were unschedulable" in cond["message"]
    cluster.kubectl(
        "patch", "node", cordoned_worker, "--type=merge", "-p", '{"spec":{"unschedulable":false}}'
    )
    assert (
        wait_for(
            lambda: get_json(cluster, "pod", "-n", sandbox_namespace, "waiting")["spec"].get(
                "nodeName"
            ),
            what="binding after uncordon",
        )
        == cordoned_worker
    )


def test_daemonset_runs_one_pod_per_eligible_node(
    cluster: ClusterHandle, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    nodes = get_json(cluster, "nodes")["items"]
    untainted = [n["metadata"]["name"] for n in nodes if not n["spec"].get("taints")]

    def daemonset(name: str, tolerate: bool) -> dict[str, Any]:
        spec: dict[str, Any] = {"containers": [{"name": "c", "image": "agent"}]}
        if tolerate:
            spec["tolerations"] = [{"operator": "Exists"}]
        return {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "selector": {"matchLabels": {"ds": name}},
                "template": {"metadata": {"labels": {"ds": name}}, "spec": spec},
            },
        }

    apply(cluster, daemonset("some", False), daemonset("all", True))
    for name, expected in (
        ("some", sorted(untainted)),
        ("all", sorted(n["metadata"]["name"] for n in nodes)),
    ):
        status = wait_for(
            functools.partial(daemonset_ready, cluster, ns, name, len(expected)),
            what=f"DaemonSet {name} ready",
        )
        assert status["desiredNumberScheduled"] == status["currentNumberScheduled"] == len(expected)
        assert status["numberMisscheduled"] == 0
        placed = sorted(p["spec"]["nodeName"] for p in pods(cluster, ns, f"ds={name}"))
        assert placed == expected


def test_virtual_nodes_are_scheduled_to_but_left_to_their_own_kubelet(
    sandbox: SandboxClusters,
) -> None:
    cluster = sandbox.clusters[-1]
    ns = f"vn-{secrets.token_hex(3)}"
    node_name = f"liqo-{ns}"
    cluster.kubectl("create", "namespace", ns)
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node_name,
            "labels": {"liqo.io/type": "virtual-node", "kubernetes.io/hostname": node_name},
        },
        "spec": {
            "taints": [
                {"key": "virtual-node.liqo.io/not-allowed", "value": "true", "effect": "NoExecute"}
            ]
        },
    }
    status = {
        "status": {
            "allocatable": {"cpu": "2", "memory": "2Gi", "pods": "10"},
            "capacity": {"cpu": "2", "memory": "2Gi", "pods": "10"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        }
    }
    try:
        apply(cluster, node)
        cluster.kubectl(
            "patch",
            "node",
            node_name,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps(status),
        )
        offloaded = pod(
            ns,
            "offloaded",
            nodeSelector={"liqo.io/type": "virtual-node"},
            tolerations=[{"key": "virtual-node.liqo.io/not-allowed", "operator": "Exists"}],
        )
        apply(cluster, offloaded, pod(ns, "local"))
        assert (
            wait_for(
                lambda: get_json(cluster, "pod", "-n", ns, "offloaded")["spec"].get("nodeName"),
                what="binding to the virtual node",
            )
            == node_name
        )
        local = wait_for(
            lambda: (
                (p := get_json(cluster, "pod", "-n", ns, "local"))["status"].get("phase")
                == "Running"
                and p
            ),
            what="the local pod running",
        )
        assert local["spec"]["nodeName"] != node_name
        current = get_json(cluster, "pod", "-n", ns, "offloaded")
        assert current["status"].get("phase") == "Pending" and not current["status"].get("podIP")
    finally:
        cluster.kubectl(
            "delete", "pod", "-n", ns, "--all", "--grace-period=0", "--force", check=False
        )
        cluster.kubectl("delete", "node", node_name, "--wait=false", check=False)
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_kubectl_create_deployment_yields_running_pods(
    cluster: ClusterHandle, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    cluster.kubectl("create", "deployment", "x", "-n", ns, "--image=y", "--replicas=3")
    running = wait_for(
        lambda: (
            len(
                live := [
                    p for p in pods(cluster, ns, "app=x") if p["status"].get("phase") == "Running"
                ]
            )
            == 3
            and live
        ),
        what="3 Running pods of kubectl's deployment",
    )
    assert {p["spec"]["containers"][0]["image"] for p in running} == {"y"}


def statefulset(ns: str, name: str, replicas: int, **spec: Any) -> dict[str, Any]:
    pod_spec = spec.pop("pod_spec", {})
    pod_spec.setdefault("containers", [{"name": "c", "image": "registry.k8s.io/pause:3.9"}])
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"sts": name}},
            "template": {"metadata": {"labels": {"sts": name}}, "spec": pod_spec},
            **spec,
        },
    }


def statefulset_status(
    cluster: ClusterHandle, ns: str, name: str, ready: int
) -> dict[str, Any] | None:
    status = get_json(cluster, "statefulset", "-n", ns, name).get("status") or {}
    if status.get("readyReplicas", 0) == ready and status.get("replicas") == ready:
        return dict(status)
    return None


def test_statefulset_creates_ordered_pods_scales_and_reports_status(
    cluster: ClusterHandle, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    apply(cluster, statefulset(ns, "db", 3))
    status = wait_for(
        functools.partial(statefulset_status, cluster, ns, "db", 3), what="3 ready replicas"
    )
    assert status["availableReplicas"] == status["currentReplicas"] == 3
    assert status["updatedReplicas"] == 3
    assert status["currentRevision"] == status["updateRevision"]
    assert status["observedGeneration"] >= 1
    members = sorted(pods(cluster, ns, "sts=db"), key=lambda p: p["metadata"]["name"])
    assert [p["metadata"]["name"] for p in members] == ["db-0", "db-1", "db-2"]
    for index, member in enumerate(members):
        labels = member["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == member["metadata"]["name"]
        assert labels["apps.kubernetes.io/pod-index"] == str(index)
        assert labels["controller-revision-hash"] == status["updateRevision"]
        assert member["spec"]["hostname"] == member["metadata"]["name"]
        assert member["spec"]["subdomain"] == "db"
        assert member["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
        assert member["status"]["phase"] == "Running"

    cluster.kubectl("scale", "statefulset", "db", "-n", ns, "--replicas=1")
    wait_for(
        lambda: [p["metadata"]["name"] for p in pods(cluster, ns, "sts=db")] == ["db-0"],
        what="scale down to db-0",
    )
    wait_for(functools.partial(statefulset_status, cluster, ns, "db", 1), what="status of 1")

    # A deleted member comes back under the same name.
    uid = get_json(cluster, "pod", "-n", ns, "db-0")["metadata"]["uid"]
    cluster.kubectl("delete", "pod", "db-0", "-n", ns, "--wait=false")
    wait_for(
        lambda: (
            (p := get_json(cluster, "pod", "-n", ns, "db-0"))
            and p["metadata"]["uid"] != uid
            and p["status"].get("phase") == "Running"
        ),
        what="db-0 recreated",
    )


def test_statefulset_ordered_ready_waits_for_each_pod_parallel_does_not(
    cluster: ClusterHandle, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    # Pods nobody can schedule never become ready: OrderedReady stops at ordinal 0.
    unschedulable = {"nodeSelector": {"sandbox.liqo.io/no-such-node": "true"}}
    apply(
        cluster,
        statefulset(ns, "ordered", 3, pod_spec=dict(unschedulable)),
        statefulset(
            ns, "parallel", 3, podManagementPolicy="Parallel", pod_spec=dict(unschedulable)
        ),
    )
    wait_for(
        lambda: (
            (get_json(cluster, "statefulset", "-n", ns, "ordered").get("status") or {}).get(
                "replicas"
            )
            == 1
        ),
        what="ordered set reports its first pod",
    )
    names = wait_for(
        lambda: (
            len(found := sorted(p["metadata"]["name"] for p in pods(cluster, ns, "sts=parallel")))
            == 3
            and found
        ),
        what="all parallel pods created",
    )
    assert names == ["parallel-0", "parallel-1", "parallel-2"]
    # By now the controller has had every chance to go on: it still waits for ordinal 0.
    assert [p["metadata"]["name"] for p in pods(cluster, ns, "sts=ordered")] == ["ordered-0"]


def test_kubelets_run_the_server_version_and_cluster_ips_are_in_the_service_cidr(
    sandbox: SandboxClusters, sandbox_namespace: str
) -> None:
    for cluster in sandbox.clusters:
        server = json.loads(cluster.kubectl("get", "--raw", "/version").stdout)["gitVersion"]
        for node in get_json(cluster, "nodes")["items"]:
            assert node["status"]["nodeInfo"]["kubeletVersion"] == server
        info = get_json(cluster, "configmap", "-n", "kube-system", "sandbox-cluster-info")
        service_cidr = ipaddress.ip_network(info["data"]["serviceCIDR"])
        kubernetes = get_json(cluster, "service", "-n", "default", "kubernetes")
        assert ipaddress.ip_address(kubernetes["spec"]["clusterIP"]) in service_cidr
    cluster = sandbox.clusters[0]
    cluster.kubectl(
        "create", "service", "clusterip", "addr", "-n", sandbox_namespace, "--tcp=80:8080"
    )
    svc = get_json(cluster, "service", "-n", sandbox_namespace, "addr")
    info = get_json(cluster, "configmap", "-n", "kube-system", "sandbox-cluster-info")
    assert ipaddress.ip_address(svc["spec"]["clusterIP"]) in ipaddress.ip_network(
        info["data"]["serviceCIDR"]
    )


def test_statefulset_rolling_update_replaces_pods_from_the_highest_ordinal(
    cluster: ClusterHandle, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    apply(cluster, statefulset(ns, "roll", 2))
    first = wait_for(
        functools.partial(statefulset_status, cluster, ns, "roll", 2), what="2 ready replicas"
    )
    patch = '{"spec":{"template":{"metadata":{"labels":{"sts":"roll","rev":"2"}}}}}'
    cluster.kubectl("patch", "statefulset", "roll", "-n", ns, "--type=merge", "-p", patch)

    def rolled() -> dict[str, Any] | None:
        status = statefulset_status(cluster, ns, "roll", 2)
        if not status or status.get("updatedReplicas") != 2:
            return None
        if status.get("currentRevision") != status.get("updateRevision"):
            return None
        return status

    status = wait_for(rolled, what="rolling update to the new template")
    assert status["updateRevision"] != first["updateRevision"]
    members = pods(cluster, ns, "sts=roll")
    assert sorted(p["metadata"]["name"] for p in members) == ["roll-0", "roll-1"]
    created = {p["metadata"]["name"]: p["metadata"]["creationTimestamp"] for p in members}
    assert created["roll-1"] <= created["roll-0"]  # the highest ordinal is replaced first
    for member in members:
        assert member["metadata"]["labels"]["rev"] == "2"
        assert member["metadata"]["labels"]["controller-revision-hash"] == status["updateRevision"]
