"""Offloading end to end, as the README tells a user: two sandbox clusters, ``liqoctl
peer``, a Ready virtual node, a namespace offloaded, a Deployment running on the provider.

Everything is observed with kubectl through the two API servers, so the same tests run
on real clusters with Liqo installed (``LIQO_TEST_KUBECONFIGS``: consumer first).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from liqo_core.sandbox.liqo import default_chart
from liqo_core.sandbox.sandbox import Sandbox
from liqo_core.testing.clusters import ClusterHandle, kubeconfigs_from_env, unique_name
from liqo_core.testing.kubectl import apply, get_json, wait_for

pytestmark = [pytest.mark.e2e]

TAINT = "virtual-node.liqo.io/not-allowed"
REPLICAS = 20


@dataclass
class Peering:
    consumer: ClusterHandle
    provider: ClusterHandle
    consumer_id: str
    provider_id: str

    def liqoctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", "from liqo_core.cli.app import main; main()"]
        command += ["--kubeconfig", str(self.consumer.kubeconfig), *args]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        if check:
            assert proc.returncode == 0, f"liqoctl {' '.join(args)}:\n{proc.stdout}{proc.stderr}"
        return proc

    @property
    def remote(self) -> list[str]:
        return ["--remote-kubeconfig", str(self.provider.kubeconfig)]


def _cluster_id(cluster: ClusterHandle) -> str:
    config = get_json(cluster, "configmap", "-n", "liqo", "liqo-clusterid-configmap")
    return str(config["data"]["CLUSTER_ID"])


@pytest.fixture(scope="module")
def peering(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peering]:
    """The consumer peered with the provider (``--networking-disabled``), unpeered after."""
    sandbox: Sandbox | None = None
    real = kubeconfigs_from_env()
    if real is not None:
        clusters = [ClusterHandle(f"cluster-{i + 1}", path) for i, path in enumerate(real[:2])]
    else:
        sandbox = Sandbox(tmp_path_factory.mktemp("offloading-sandbox"))
        state = sandbox.up(2, chart=default_chart(), timeout=300)
        clusters = [
            ClusterHandle(info.name, Path(info.kubeconfig), emulated=True)
            for info in state.clusters
        ]
    consumer, provider = clusters
    peering = Peering(consumer, provider, _cluster_id(consumer), _cluster_id(provider))
    try:
        peering.liqoctl("peer", *peering.remote, "--networking-disabled", "--timeout", "180")
        yield peering
        peering.liqoctl("unpeer", *peering.remote, "--delete-namespaces")
        wait_for(
            lambda: not _offloading_leftovers(peering),
            timeout=120,
            what="nothing of the offloading left after unpeer",
        )
    finally:
        for cluster in clusters:
            cluster.close()
        if sandbox is not None:
            sandbox.down()


def _offloading_leftovers(peering: Peering) -> list[str]:
    """What of the offloading towards the provider is still on either cluster."""
    consumer, provider = peering.consumer, peering.provider
    mine = f"liqo.io/remote-cluster-id={peering.provider_id}"
    theirs = f"liqo.io/remote-cluster-id={peering.consumer_id}"
    listings = [
        (consumer, "VirtualNode", ("virtualnodes", "-A")),
        (consumer, "Node", ("nodes", "-l", mine)),
        (consumer, "virtual-kubelet Deployment", ("deployments", "-A", "-l", mine)),
        (consumer, "NamespaceMap", ("namespacemaps", "-A")),
        (provider, "provider NamespaceMap", ("namespacemaps", "-A")),
        (provider, "ShadowPod", ("shadowpods", "-A")),
        (provider, "twin namespace", ("namespaces", "-l", theirs)),
    ]
    return [
        f"{what} {item['metadata']['name']}"
        for cluster, what, args in listings
        for item in _items(cluster, *args)
    ]


def _items(cluster: ClusterHandle, *args: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get_json(cluster, *args)["items"]
    return items


def _condition(obj: dict[str, Any], kind: str) -> str | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def _ready_virtual_node(peering: Peering) -> dict[str, Any] | None:
    nodes = get_json(peering.consumer, "nodes", "-l", "liqo.io/type=virtual-node")["items"]
    mine = [
        node
        for node in nodes
        if node["metadata"]["labels"].get("liqo.io/remote-cluster-id") == peering.provider_id
    ]
    ready = [node for node in mine if _condition(node, "Ready") == "True"]
    return ready[0] if ready else None


def test_peer_leaves_a_ready_virtual_node(peering: Peering) -> None:
    node = wait_for(lambda: _ready_virtual_node(peering), timeout=120, what="a Ready virtual node")
    taints = node["spec"].get("taints") or []
    assert {"key": TAINT, "value": "true", "effect": "NoExecute"} in [
        {k: t.get(k) for k in ("key", "value", "effect")} for t in taints
    ]
    assert node["status"]["capacity"] == node["status"]["allocatable"]
    assert float(node["status"]["capacity"]["cpu"]) > 0
    virtual_nodes = get_json(peering.consumer, "virtualnodes", "-A")["items"]
    (virtual_node,) = [vn for vn in virtual_nodes if vn["spec"]["clusterID"] == peering.provider_id]
    assert virtual_node["metadata"]["name"] == node["metadata"]["name"]


def _pods(cluster: ClusterHandle, namespace: str, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get_json(cluster, "pods", "-n", namespace, "-l", selector)[
        "items"
    ]
    return [pod for pod in items if not pod["metadata"].get("deletionTimestamp")]


def _running_and_ready(pods: list[dict[str, Any]]) -> bool:
    return all(
        pod["status"].get("phase") == "Running" and _condition(pod, "Ready") == "True"
        for pod in pods
    )


@pytest.fixture(scope="module")
def offloaded(peering: Peering) -> Iterator[tuple[str, str]]:
    """A namespace offloaded with pod strategy Remote: (local name, twin name)."""
    wait_for(lambda: _ready_virtual_node(peering), timeout=120, what="a Ready virtual node")
    namespace = unique_name("offload-remote", 40)
    peering.consumer.kubectl("create", "namespace", namespace)
    peering.liqoctl(
        "offload", "namespace", namespace, "--pod-offloading-strategy", "Remote", "--wait"
    )
    offloading = get_json(peering.consumer, "namespaceoffloading", "-n", namespace, "offloading")
    twin = offloading["status"]["remoteNamespaceName"]
    assert offloading["status"]["offloadingPhase"] == "Ready"
    assert get_json(peering.provider, "namespace", twin) is not None
    yield namespace, twin
    peering.liqoctl("unoffload", "namespace", namespace, "--wait")
    wait_for(
        lambda: get_json(peering.provider, "namespace", twin) is None,
        timeout=120,
        what=f"twin namespace {twin} gone",
    )
    peering.consumer.kubectl("delete", "namespace", namespace, "--wait=false")


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.27",
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                        }
                    ]
                },
            },
        },
    }


def test_a_remote_deployment_runs_on_the_provider(
    peering: Peering, offloaded: tuple[str, str]
) -> None:
    namespace, twin = offloaded
    name = "web"
    selector = f"app={name}"
    apply(peering.consumer, _deployment(name, REPLICAS), namespace=namespace)

    def all_running() -> list[dict[str, Any]] | None:
        local = _pods(peering.consumer, namespace, selector)
        remote = _pods(peering.provider, twin, selector)
        if len(local) != REPLICAS or len(remote) != REPLICAS:
            return None
        if not (_running_and_ready(local) and _running_and_ready(remote)):
            return None
        return local

    local = wait_for(all_running, timeout=240, interval=1.0, what="every replica Running")
    node = _ready_virtual_node(peering)
    assert node is not None
    assert {pod["spec"]["nodeName"] for pod in local} == {node["metadata"]["name"]}
    remote = {pod["metadata"]["name"]: pod for pod in _pods(peering.provider, twin, selector)}
    assert set(remote) == {pod["metadata"]["name"] for pod in local}
    for pod in local:
        # Without networking the remote pod's IP is reflected verbatim.
        assert pod["status"]["podIP"] == remote[pod["metadata"]["name"]]["status"]["podIP"]
    shadows = get_json(peering.provider, "shadowpods", "-n", twin)["items"]
    assert {s["metadata"]["name"] for s in shadows} == set(remote)

    # The provider's pod is deleted: its ShadowPod brings it back.
    victim = sorted(remote)[0]
    old_uid = remote[victim]["metadata"]["uid"]
    peering.provider.kubectl("delete", "pod", "-n", twin, victim, "--wait=false")

    def recreated() -> bool:
        pod = get_json(peering.provider, "pod", "-n", twin, victim)
        return bool(
            pod
            and pod["metadata"]["uid"] != old_uid
            and not pod["metadata"].get("deletionTimestamp")
            and pod["status"].get("phase") == "Running"
        )

    wait_for(recreated, timeout=120, what=f"provider pod {victim} recreated")

    # The consumer's pod is deleted: its ShadowPod and provider pod go too.
    gone = sorted(remote)[1]
    peering.consumer.kubectl("delete", "pod", "-n", namespace, gone, "--wait=false")
    wait_for(
        lambda: (
            get_json(peering.provider, "shadowpod", "-n", twin, gone) is None
            and get_json(peering.provider, "pod", "-n", twin, gone) is None
        ),
        timeout=120,
        what=f"ShadowPod and provider pod {gone} gone",
    )
    wait_for(all_running, timeout=240, interval=1.0, what="the replacement replica Running")

    # Scaled to zero: nothing is left on the provider.
    peering.consumer.kubectl("scale", "deployment", "-n", namespace, name, "--replicas=0")
    wait_for(
        lambda: (
            not get_json(peering.provider, "pods", "-n", twin)["items"]
            and not get_json(peering.provider, "shadowpods", "-n", twin)["items"]
        ),
        timeout=240,
        interval=1.0,
        what="no pod nor ShadowPod left on the provider",
    )
    assert not _pods(peering.consumer, namespace, selector)
    events = json.loads(
        peering.consumer.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    )
    failures = [e for e in events["items"] if e.get("reason") == "OffloadingBackOff"]
    assert not failures, failures
