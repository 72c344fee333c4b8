"""``liqo virtual-kubelet`` end to end, as a subprocess between two clusters.

The consumer holds what the VirtualNode controller and the peering would have made: a
VirtualNode, the provider's kubeconfig Secret, a ForeignCluster and the NamespaceMap,
whose status the test writes as the provider's NamespaceMap controller would. The test
also plays the provider's ShadowPod controller: it runs each ShadowPod as a Pod (owned by
it) and writes that Pod's status. The virtual kubelet runs with the chart's RBAC on both
sides (``liqo-virtual-kubelet-local`` on the consumer, ``liqo-virtual-kubelet-remote`` in
the twin namespace). Everything is observed through the API and the process's endpoints.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import RoleProcess, free_port, wait_for
from liqo_sides import CRD_DIR, chart_objects
from offloading_e2e_support import (
    condition,
    items,
    kubeconfig_as,
    namespace,
    namespace_map,
    patch,
    pod,
    virtual_node,
    wait_for_crds,
)

from liqo_core.testing.clusters import ClusterHandle
from liqo_core.testing.kubectl import apply, get_json

pytestmark = pytest.mark.e2e

LIQO = Path(sys.executable).parent / "liqo"
NODE_IP = "10.20.30.40"
REMOTE_IP = "10.250.0.5"


def _token_kubeconfig(cluster: ClusterHandle, namespace: str, account: str, path: Path) -> str:
    token = cluster.kubectl("create", "token", account, "-n", namespace, "--duration=1h").stdout
    return kubeconfig_as(cluster, {"token": token.strip()}, path)


def _role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }


def _binding(kind: str, name: str, role: str, account: str, namespace: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if kind == "RoleBinding":
        meta["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }


@dataclass
class Peering:
    """A consumer and a provider prepared for one virtual kubelet."""

    consumer: ClusterHandle
    provider: ClusterHandle
    tmp: Path
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    kubelet: RoleProcess | None = None
    health_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        s = self.suffix
        self.home, self.peer = f"consumer-{s}", f"provider-{s}"
        self.liqo, self.tenant = f"liqo-{s}", f"liqo-tenant-{s}"
        self.apps, self.other, self.twin = f"apps-{s}", f"other-{s}", f"apps-{s}-twin"
        self.node, self.secret = f"vn-{s}", f"kubeconfig-{s}"
        self.log = self.tmp / "virtual-kubelet.log"

    # --- Set-up -------------------------------------------------------------------------------

    def prepare(self) -> None:
        roles = {
            o["metadata"]["name"]: o["rules"]
            for o in chart_objects()
            if o["kind"] == "ClusterRole"
            and o["metadata"]["name"]
            in ("liqo-virtual-kubelet-local", "liqo-virtual-kubelet-remote")
        }
        for cluster in (self.consumer, self.provider):
            cluster.kubectl("apply", "-f", str(CRD_DIR))
            wait_for_crds(cluster)
        s = self.suffix
        # Provider: the twin namespace, and the consumer's identity bound in it.
        apply(
            self.provider,
            namespace(self.twin),
            namespace(f"liqo-tenant-{self.home}"),
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": self.home, "namespace": f"liqo-tenant-{self.home}"}},
            _role(f"liqo-virtual-kubelet-remote-{s}", roles["liqo-virtual-kubelet-remote"]),
        )  # fmt: skip
        apply(
            self.provider,
            _binding(
                "RoleBinding", f"liqo-tenant-{self.home}", f"liqo-virtual-kubelet-remote-{s}",
                self.home, f"liqo-tenant-{self.home}",
            ) | {"metadata": {"name": f"liqo-tenant-{self.home}", "namespace": self.twin}},
        )  # fmt: skip
        remote = _token_kubeconfig(
            self.provider, f"liqo-tenant-{self.home}", self.home, self.tmp / "remote.kcfg"
        )
        # Consumer: namespaces, the virtual kubelet's ServiceAccount and RBAC, its objects.
        apply(
            self.consumer,
            *(namespace(n) for n in (self.liqo, self.tenant, self.apps, self.other)),
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": self.node, "namespace": self.tenant}},
            _role(f"liqo-virtual-kubelet-local-{s}", roles["liqo-virtual-kubelet-local"]),
            _binding("ClusterRoleBinding", f"liqo-node-{self.node}",
                     f"liqo-virtual-kubelet-local-{s}", self.node, self.tenant),
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": self.secret,
             "namespace": self.tenant}, "stringData": {"kubeconfig": remote}},
            self.virtual_node(),
            {"apiVersion": "core.liqo.io/v1beta1", "kind": "ForeignCluster",
             "metadata": {"name": self.peer, "labels": {"liqo.io/remote-cluster-id": self.peer}},
             "spec": {"clusterID": self.peer}},
            namespace_map(self.peer, self.tenant, self.peer, {self.apps: self.twin}),
        )  # fmt: skip
        self.network(established=False)
        self.map_namespace("Accepted")
        _token_kubeconfig(self.consumer, self.tenant, self.node, self.tmp / "local.kcfg")
        config = {"modules": ["offloading"], "namespace": self.liqo, "clusterID": self.home}
        (self.tmp / "config.yaml").write_text(yaml.safe_dump(config))

    def virtual_node(self) -> dict[str, Any]:
        return virtual_node(
            self.node, self.tenant, self.peer, secret=self.secret,
            resourceQuota={"hard": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
            labels={"zone": "eu-1"},
            taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}],
            images=[{"names": ["app:1"], "sizeBytes": 1000}],
            offloadingPatch={
                "nodeSelector": {"provider-pool": "offload"},
                "tolerations": [{"key": "pool", "operator": "Exists"}],
                "runtimeClassName": "kata",
                "labelsNotReflected": ["team"],
            },
        )  # fmt: skip

    def network(self, *, established: bool) -> None:
        condition = {"type": "NetworkConnectionStatus",
                     "status": "Established" if established else "Pending"}  # fmt: skip
        networking = {"enabled": True, "conditions": [condition]}
        status = {
            "observedGeneration": 1,
            "role": "Provider",
            "modules": {"networking": networking},
        }
        patch(self.consumer, "foreigncluster", self.peer, body={"status": status}, status=True)

    def map_namespace(self, phase: str) -> None:
        mapping = {self.apps: {"remoteNamespace": self.twin, "phase": phase}}
        patch(
            self.consumer, "namespacemap", self.peer, "-n", self.tenant,
            body={"status": {"currentMapping": mapping}}, status=True,
        )  # fmt: skip

    # --- The virtual kubelet ------------------------------------------------------------------

    def start(self, *extra: str) -> None:
        command = [
            str(LIQO), "virtual-kubelet", "--config", str(self.tmp / "config.yaml"),
            "--kubeconfig", str(self.tmp / "local.kcfg"), "--identity", f"vk-{self.suffix}",
            "--health-port", str(self.health_port), "--bind-address", "127.0.0.1",
            "--metrics-enabled", f"--metrics-address=127.0.0.1:{self.metrics_port}",
            f"--foreign-cluster-id={self.peer}", f"--foreign-kubeconfig-secret-name={self.secret}",
            f"--nodename={self.node}", f"--node-ip={NODE_IP}", f"--tenant-namespace={self.tenant}",
            f"--liqo-namespace={self.liqo}", f"--home-cluster-id={self.home}",
            "--create-node=true", "--node-check-network=true", "--node-extra-labels=vk-test=yes",
            "--pod-reflection-workers=2", "--node-lease-duration=4s", "--node-ping-interval=1s",
            "--vk-lease-duration=4s", "--vk-lease-renew-interval=3s",
            "--vk-lease-retry-period=0.5s", *extra,
        ]  # fmt: skip
        environment = {"PATH": str(LIQO.parent), "HOME": str(self.tmp)}
        with self.log.open("ab") as sink:  # appended: one log of every start
            process = subprocess.Popen(
                command, env=environment, stdout=sink, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        identity = f"vk-{self.suffix}"
        self.kubelet = RoleProcess(identity, self.health_port, self.metrics_port, process, self.log)

    def kill(self) -> None:
        if self.kubelet is not None:
            self.kubelet.kill()

    def http(self, port: int, path: str) -> tuple[int, str]:
        assert self.kubelet is not None
        return self.kubelet.get(port, path)

    def alive(self) -> bool:
        assert self.kubelet is not None and self.kubelet.process.poll() is None, (
            self.log.read_text()
        )
        return True

    def sigterm(self) -> None:
        """Stop it with SIGTERM: a clean exit."""
        assert self.kubelet is not None
        assert self.kubelet.stop(signal.SIGTERM) == 0, self.kubelet.logs()[-3000:]

    # --- Reading and playing the provider ---------------------------------------------------

    def node_obj(self) -> dict[str, Any] | None:
        return get_json(self.consumer, "node", self.node)

    def condition(self, kind: str) -> str | None:
        return condition(self.node_obj(), kind)

    def pod(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return get_json(self.consumer, "pod", name, "-n", namespace or self.apps)

    def shadow(self, name: str) -> dict[str, Any] | None:
        return get_json(self.provider, "shadowpod", name, "-n", self.twin)

    def bind_pod(self, name: str, namespace: str | None = None, **spec: Any) -> None:
        labels = {"app": name, "team": "blue"}
        apply(self.consumer, pod(namespace or self.apps, name, labels, nodeName=self.node, **spec))

    def run_remote(self, name: str, restarts: int = 0) -> None:
        """Play the ShadowPod controller: a Pod of the ShadowPod, reported Running."""
        shadow = wait_for(f"ShadowPod {name}", lambda: self.shadow(name))
        meta = shadow["metadata"]
        remote = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name, "namespace": self.twin,
                "labels": {**meta["labels"], "liqo.io/managed-by": "shadowpod"},
                "ownerReferences": [{"apiVersion": "offloading.liqo.io/v1beta1",
                                     "kind": "ShadowPod", "name": name, "uid": meta["uid"],
                                     "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": shadow["spec"]["pod"],
        }  # fmt: skip
        self.provider.kubectl("create", "-f", "-", input=json.dumps(remote))
        running = {
            "phase": "Running", "podIP": REMOTE_IP, "podIPs": [{"ip": REMOTE_IP}],
            "hostIP": "192.168.77.7",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "ready": True, "restartCount": restarts,
                                   "image": "app:1", "imageID": "", "state": {"running": {}}}],
        }  # fmt: skip
        patch(self.provider, "pod", name, "-n", self.twin, body={"status": running}, status=True)

    def cleanup(self) -> None:
        self.kill()
        s = self.suffix
        for ref in (f"node/{self.node}", f"foreignclusters/{self.peer}",
                    f"clusterrolebinding/liqo-node-{self.node}",
                    f"clusterrole/liqo-virtual-kubelet-local-{s}"):  # fmt: skip
            self.consumer.kubectl("delete", ref, "--wait=false", check=False)
        for n in (self.liqo, self.tenant, self.apps, self.other):
            self.consumer.kubectl("delete", "namespace", n, "--wait=false", check=False)
        for ref in (f"namespace/{self.twin}", f"namespace/liqo-tenant-{self.home}",
                    f"clusterrole/liqo-virtual-kubelet-remote-{s}"):  # fmt: skip
            self.provider.kubectl("delete", ref, "--wait=false", check=False)


@pytest.fixture
def peering(kube_clusters: Any, tmp_path: Path) -> Iterator[Peering]:
    consumer, provider = kube_clusters(2)
    setup = Peering(consumer, provider, tmp_path)
    try:
        setup.prepare()
        yield setup
    finally:
        setup.cleanup()


def _restart_count(pod: dict[str, Any] | None) -> int | None:
    statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or []
    return int(statuses[0]["restartCount"]) if statuses else None


def test_a_virtual_kubelet_keeps_its_node_and_offloads_pods(peering: Peering) -> None:
    p = peering
    p.start()

    # The Node: labels, taints, capacity; NotReady while the network is not established.
    node = wait_for("the virtual Node", p.node_obj, timeout=30)
    labels = node["metadata"]["labels"]
    for key, value in {
        "kubernetes.io/hostname": p.node, "kubernetes.io/role": "agent",
        "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "liqo.io/type": "virtual-node", "type": "virtual-kubelet",
        "liqo.io/remote-cluster-id": p.peer,
        "node.kubernetes.io/exclude-from-external-load-balancers": "true",
        "zone": "eu-1", "vk-test": "yes",
    }.items():  # fmt: skip
        assert labels.get(key) == value, (key, labels)
    taints = [(t["key"], t.get("value"), t["effect"]) for t in node["spec"]["taints"]]
    assert ("virtual-node.liqo.io/not-allowed", "true", "NoExecute") in taints
    assert ("gpu", "true", "NoSchedule") in taints
    wait_for("NetworkUnavailable", lambda: p.condition("NetworkUnavailable") == "True")
    assert p.condition("Ready") == "False"
    p.network(established=True)
    wait_for("the Node Ready", lambda: p.condition("Ready") == "True", timeout=20)
    status = (p.node_obj() or {})["status"]
    assert (
        status["capacity"] == status["allocatable"] == {"cpu": "4", "memory": "8Gi", "pods": "110"}
    )
    assert status["addresses"] == [{"type": "InternalIP", "address": NODE_IP}]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert status["images"] == [{"names": ["app:1"], "sizeBytes": 1000}]
    assert p.condition("MemoryPressure") == "False" and p.condition("NetworkUnavailable") == "False"
    lease = wait_for(
        "the node Lease", lambda: get_json(p.consumer, "lease", p.node, "-n", "kube-node-lease")
    )
    assert lease["spec"]["holderIdentity"] == p.node
    assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
    first = lease["spec"]["renewTime"]
    wait_for("the node Lease renewed", lambda: (get_json(p.consumer, "lease", p.node, "-n",
             "kube-node-lease") or {})["spec"]["renewTime"] != first, timeout=10)  # fmt: skip
    election = get_json(p.consumer, "lease", p.node, "-n", p.tenant) or {}
    assert election["spec"]["holderIdentity"] == f"vk-{p.suffix}"
    wait_for("ready", lambda: p.http(p.health_port, "/readyz") == (200, "ok"))

    # Capacity follows the VirtualNode.
    p.consumer.kubectl(
        "patch", "virtualnode", p.node, "-n", p.tenant, "--type=merge",
        "-p", '{"spec": {"resourceQuota": {"hard": {"cpu": "2", "pods": null}}}}',
    )  # fmt: skip
    wait_for("the new capacity", lambda: (p.node_obj() or {})["status"]["capacity"]
             == {"cpu": "2", "memory": "8Gi"})  # fmt: skip

    # A pod bound to the node becomes a ShadowPod with the remote spec.
    toleration = {"key": "virtual-node.liqo.io/not-allowed", "operator": "Exists",
                  "effect": "NoExecute"}  # fmt: skip
    p.bind_pod(
        "web-1", hostNetwork=True, schedulerName="default-scheduler",
        nodeSelector={"liqo.io/type": "virtual-node"}, tolerations=[toleration],
        terminationGracePeriodSeconds=120,
    )  # fmt: skip
    shadow = wait_for("the ShadowPod", lambda: p.shadow("web-1"), timeout=20)
    assert shadow["metadata"]["labels"] == {
        "app": "web-1", "offloading.liqo.io/origin": p.home,
        "offloading.liqo.io/destination": p.peer, "offloading.liqo.io/nodename": p.node,
    }  # fmt: skip
    spec = shadow["spec"]["pod"]
    assert spec["nodeSelector"] == {"provider-pool": "offload"}
    assert spec["tolerations"] == [{"key": "pool", "operator": "Exists"}]
    assert spec["hostNetwork"] is False and spec["automountServiceAccountToken"] is False
    assert spec["runtimeClassName"] == "kata" and "schedulerName" not in spec
    assert "nodeName" not in spec and spec["terminationGracePeriodSeconds"] == 120
    wait_for("the pod marked offloaded", lambda: (p.pod("web-1") or {})["metadata"]["labels"]
             .get("liqo.io/shadowPod") == "true")  # fmt: skip

    # The remote pod's status flows back.
    p.run_remote("web-1")
    pod = wait_for("the pod Running", lambda: (q := p.pod("web-1")) and
                   q["status"].get("phase") == "Running" and q)  # fmt: skip
    assert pod["status"]["podIP"] == REMOTE_IP and pod["status"]["hostIP"] == NODE_IP
    assert pod["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert _restart_count(pod) == 0

    # The remote pod is re-created (a new UID): the local restart count goes up.
    p.provider.kubectl("delete", "pod", "web-1", "-n", p.twin, "--grace-period=0", "--force")
    p.run_remote("web-1")
    wait_for("one more restart", lambda: _restart_count(p.pod("web-1")) == 1)
    # The ShadowPod is deleted on the provider: the virtual kubelet creates it again.
    old_uid = (p.shadow("web-1") or {})["metadata"]["uid"]
    p.provider.kubectl("delete", "shadowpod", "web-1", "-n", p.twin)
    wait_for("the ShadowPod re-created", lambda: (s := p.shadow("web-1")) and
             s["metadata"]["uid"] != old_uid, timeout=20)  # fmt: skip

    def old_remote_pod_gone() -> bool:
        remote = get_json(p.provider, "pod", "web-1", "-n", p.twin)
        return remote is None or remote["metadata"]["ownerReferences"][0]["uid"] != old_uid

    wait_for("the old remote pod collected", old_remote_pod_gone, 30)
    if get_json(p.provider, "pod", "web-1", "-n", p.twin) is None:
        p.run_remote("web-1")
    wait_for("two restarts", lambda: _restart_count(p.pod("web-1")) == 2)

    # Pods outside offloaded namespaces are refused.
    p.bind_pod("stray", p.other)
    refused = wait_for("the stray pod refused", lambda: (q := p.pod("stray", p.other)) and
                       q["status"].get("reason") == "OffloadingBackOff" and q)  # fmt: skip
    assert refused["status"]["phase"] == "Pending"

    metrics = p.http(p.metrics_port, "/metrics")[1]
    labels = f'cluster_id="{p.peer}",namespace="{p.apps}",node_name="{p.node}"'
    assert (
        f'liqo_virtual_kubelet_reflection_item_counter{{{labels},reflector_resource="Pod"}}'
        in metrics
    )

    # kill -9, a new pod meanwhile, restart: everything adopted, nothing duplicated.
    node_uid = (p.node_obj() or {})["metadata"]["uid"]
    shadow_uid = (p.shadow("web-1") or {})["metadata"]["uid"]
    p.kill()
    p.bind_pod("web-2")
    p.start()
    wait_for("web-2's ShadowPod", lambda: p.shadow("web-2"), timeout=30)
    p.alive()
    names = sorted(s["metadata"]["name"] for s in items(p.provider, "shadowpods", "-n", p.twin))
    assert names == ["web-1", "web-2"]
    assert (p.shadow("web-1") or {})["metadata"]["uid"] == shadow_uid
    assert (p.node_obj() or {})["metadata"]["uid"] == node_uid
    assert p.condition("Ready") == "True"
    assert _restart_count(p.pod("web-1")) == 2  # the restarts before the crash are kept

    # Deleting a local pod deletes its ShadowPod; once the remote pod is gone, the local
    # pod goes at once (well before its 120 s grace period).
    p.consumer.kubectl("delete", "pod", "web-1", "-n", p.apps, "--wait=false")
    wait_for("the ShadowPod deleted", lambda: p.shadow("web-1") is None, timeout=20)
    wait_for("the local pod deleted", lambda: p.pod("web-1") is None, timeout=20)

    # The namespace stops being offloaded: its started pods are aborted.
    p.run_remote("web-2")
    wait_for("web-2 Running", lambda: (p.pod("web-2") or {})["status"].get("phase") == "Running")
    p.map_namespace("Terminating")
    aborted = wait_for("web-2 aborted", lambda: (q := p.pod("web-2")) and
                       q["status"].get("reason") == "OffloadingAborted" and q)  # fmt: skip
    assert aborted["status"]["phase"] == "Failed"

    # SIGTERM: a clean stop.
    p.sigterm()

    # --create-node=false: no Node, the reflection alone. Back offloaded, the aborted pod's
    # ShadowPod is removed (its controller replaces it) and new pods are reflected.
    p.consumer.kubectl("delete", "node", p.node)
    p.map_namespace("Accepted")
    p.start("--create-node=false")
    wait_for("ready without a Node", lambda: p.http(p.health_port, "/readyz") == (200, "ok"), 30)
    p.bind_pod("web-3")
    wait_for("web-3's ShadowPod", lambda: p.shadow("web-3"), timeout=20)
    wait_for("the aborted pod's ShadowPod removed", lambda: p.shadow("web-2") is None, 20)
    assert p.node_obj() is None
    assert (p.pod("web-2") or {})["status"]["reason"] == "OffloadingAborted"
    p.sigterm()
