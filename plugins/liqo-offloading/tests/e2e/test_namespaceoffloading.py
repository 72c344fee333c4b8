"""Namespace offloading end to end: a controller-manager with the offloading module (and
its webhooks) against a cluster; peers are faked by tenant namespaces, VirtualNodes and
NamespaceMaps written by hand.

The test plays the provider: it writes ``status.currentMapping`` into the NamespaceMaps
as the provider's NamespaceMap controller would (through the replicator), and registers
virtual Nodes as virtual kubelets would. Everything is observed through the API, so the
test holds on a real cluster too.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from e2e_support import wait_for
from liqo_offloading.cli import register_commands
from offloading_e2e_support import (
    API,
    ClusterView,
    namespace,
    namespace_map,
    offloading_side,
    pod,
    tenant_namespace,
    virtual_kubelet_node,
    virtual_node,
)

from liqo_core.cli import app as cli_app
from liqo_core.cli.context import CliState
from liqo_core.testing.clusters import ClusterPool

pytestmark = pytest.mark.e2e

FINALIZER = "namespaceoffloading-controller.liqo.io/finalizer"
SCHEDULING = "liqo.io/scheduling-enabled"
TOLERATION = {
    "key": "virtual-node.liqo.io/not-allowed",
    "operator": "Exists",
    "effect": "NoExecute",
}


@dataclass
class Consumer(ClusterView):
    """The consumer cluster with the offloading module running."""

    configuration: str
    peers: dict[str, str] = field(default_factory=dict)  # cluster id -> tenant namespace

    @property
    def cluster_id(self) -> str:
        return self.side.cluster_id

    # --- fake peers -------------------------------------------------------------------

    def peer(self, name: str, **labels: str) -> str:
        """A peer with a tenant namespace, its NamespaceMap and a VirtualNode labelled
        ``labels``; returns its cluster id."""
        cluster = f"{name}-{self.suffix}"
        tenant = f"liqo-tenant-{cluster}"
        self.peers[cluster] = tenant
        ids = {"liqo.io/remote-cluster-id": cluster}
        self.apply(
            tenant_namespace(cluster),
            namespace_map(cluster, tenant, cluster),
            virtual_node(f"vn-{cluster}", tenant, cluster, metadata_labels=ids, labels=labels),
        )
        return cluster

    def namespace_map(self, cluster: str) -> dict[str, Any]:
        found = self.get("namespacemap", cluster, "-n", self.peers[cluster])
        assert found is not None
        return found

    def desired(self, cluster: str) -> dict[str, str]:
        return dict((self.namespace_map(cluster).get("spec") or {}).get("desiredMapping") or {})

    def report(self, cluster: str, namespace: str, phase: str | None) -> None:
        """Play the provider: the twin of ``namespace`` is in ``phase`` (None: gone)."""
        entry = None
        if phase is not None:
            entry = {"remoteNamespace": self.desired(cluster).get(namespace, namespace),
                     "phase": phase}  # fmt: skip
        self.patch(
            "namespacemap", cluster, "-n", self.peers[cluster],
            body={"status": {"currentMapping": {namespace: entry}}}, status=True,
        )  # fmt: skip

    def register_node(self, cluster: str, **labels: str) -> None:
        """Play a virtual kubelet: the Node of the peer's VirtualNode, with ``labels``."""
        self.apply(virtual_kubelet_node(f"vn-{cluster}", cluster, **labels))

    # --- offloaded namespaces -----------------------------------------------------------

    def app_namespace(self, hint: str) -> str:
        name = f"{hint}-{secrets.token_hex(2)}-{self.suffix}"
        self.apply(namespace(name))
        return name

    def offload(self, namespace: str, **spec: Any) -> None:
        self.apply({"apiVersion": API, "kind": "NamespaceOffloading",
                    "metadata": {"name": "offloading", "namespace": namespace},
                    "spec": spec})  # fmt: skip

    def offloading(self, namespace: str) -> dict[str, Any] | None:
        return self.get("namespaceoffloading", "offloading", "-n", namespace)

    def status(self, namespace: str) -> dict[str, Any]:
        return dict((self.offloading(namespace) or {}).get("status") or {})

    def phase_is(self, namespace: str, phase: str) -> bool:
        found = self.offloading(namespace) or {}
        status = found.get("status") or {}
        current = status.get("observedGeneration") == found.get("metadata", {}).get("generation")
        return current and status.get("offloadingPhase") == phase

    def labels_of(self, namespace: str) -> dict[str, str]:
        return dict(((self.get("namespace", namespace) or {}).get("metadata") or {})
                    .get("labels") or {})  # fmt: skip

    def conditions(self, namespace: str, cluster: str) -> dict[str, str]:
        found = (self.status(namespace).get("remoteNamespacesConditions") or {}).get(cluster)
        return {c["type"]: f"{c['status']}/{c['reason']}" for c in found or []}


def start_consumer(pool: ClusterPool, tmp: Path) -> Iterator[Consumer]:
    [cluster] = pool.get(1)
    with offloading_side(cluster, tmp, "consumer") as setup:
        consumer = Consumer(setup.side, setup.suffix, setup.configuration)
        consumer.apply(setup.template())
        # Real clusters refuse pods of unknown runtime classes.
        runtime_class_created = consumer.get("runtimeclass", "liqo") is None
        if runtime_class_created:
            consumer.apply(setup.chart_object("RuntimeClass"))
        try:
            setup.start()
            yield consumer
        finally:
            if runtime_class_created:
                cluster.kubectl("delete", "runtimeclass", "liqo", check=False)


@pytest.fixture(scope="module")
def consumer(
    kube_cluster_pool: ClusterPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Consumer]:
    yield from start_consumer(kube_cluster_pool, tmp_path_factory.mktemp("nsoff"))


# --- the controller --------------------------------------------------------------------------


def test_selected_peers_get_the_mapping_and_the_status_follows_them(consumer: Consumer) -> None:
    eu = consumer.peer("eu", region="eu")
    us = consumer.peer("us", region="us")
    app = consumer.app_namespace("app")
    twin = f"{app}-{consumer.cluster_id}"
    consumer.offload(app, clusterSelector={"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "region", "operator": "In", "values": ["eu"]}]}]})  # fmt: skip

    wait_for("the mapping on the eu peer", lambda: consumer.desired(eu).get(app) == twin, 60)
    assert app not in consumer.desired(us)
    wait_for("the scheduling label", lambda: consumer.labels_of(app).get(SCHEDULING) == "true")
    wait_for("InProgress", lambda: consumer.phase_is(app, "InProgress"))
    status = consumer.status(app)
    assert status["remoteNamespaceName"] == twin
    assert FINALIZER in (consumer.offloading(app) or {})["metadata"]["finalizers"]
    assert consumer.conditions(app, eu) == {
        "OffloadingRequired": "True/ClusterSelected", "Ready": "False/Creating"}  # fmt: skip
    assert consumer.conditions(app, us) == {"OffloadingRequired": "False/ClusterNotSelected"}

    consumer.report(eu, app, "Accepted")
    wait_for("Ready", lambda: consumer.phase_is(app, "Ready"))
    assert consumer.conditions(app, eu)["Ready"] == "True/NamespaceCreated"

    # The us peer's virtual Node is registered with the eu label: the Node's labels count.
    consumer.register_node(us, region="eu")
    wait_for("the mapping on the us peer", lambda: consumer.desired(us).get(app) == twin, 30)
    wait_for("InProgress again", lambda: consumer.status(app).get("offloadingPhase")
             == "InProgress")  # fmt: skip
    consumer.report(us, app, "CreationLoopBackOff")
    wait_for("SomeFailed", lambda: consumer.status(app).get("offloadingPhase") == "SomeFailed")

    # A selector no peer matches: the mappings go, the status says so.
    consumer.patch("namespaceoffloading", "offloading", "-n", app, body={"spec": {
        "clusterSelector": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "region", "operator": "In", "values": ["mars"]}]}]}}})  # fmt: skip
    wait_for("no mapping left", lambda: app not in consumer.desired(eu)
             and app not in consumer.desired(us), 30)  # fmt: skip
    consumer.report(eu, app, None)
    consumer.report(us, app, None)
    wait_for("NoClusterSelected", lambda: consumer.phase_is(app, "NoClusterSelected"))


def test_deletion_waits_for_the_twins(consumer: Consumer) -> None:
    peer = consumer.peer("del", tier="1")
    app = consumer.app_namespace("del")
    tiered = {"nodeSelectorTerms": [{"matchExpressions": [{"key": "tier", "operator": "Exists"}]}]}
    consumer.offload(app, namespaceMappingStrategy="EnforceSameName", clusterSelector=tiered)
    wait_for("the mapping", lambda: consumer.desired(peer).get(app) == app, 60)
    consumer.report(peer, app, "Accepted")
    wait_for("Ready", lambda: consumer.phase_is(app, "Ready"))

    consumer.cluster.kubectl("delete", "namespaceoffloading", "offloading", "-n", app,
                             "--wait=false")  # fmt: skip
    wait_for("the mapping removed", lambda: app not in consumer.desired(peer), 30)
    wait_for("the label removed", lambda: SCHEDULING not in consumer.labels_of(app))
    wait_for("Terminating", lambda: consumer.status(app).get("offloadingPhase") == "Terminating")
    # While the provider reports its twin Terminating, the NamespaceOffloading waits.
    consumer.report(peer, app, "Terminating")
    assert consumer.offloading(app) is not None
    wait_for(
        "Ready=Terminating",
        lambda: consumer.conditions(app, peer).get("Ready") == "False/Terminating",
    )
    assert consumer.offloading(app) is not None
    consumer.report(peer, app, None)
    wait_for("the NamespaceOffloading gone", lambda: consumer.offloading(app) is None, 30)


def test_local_strategy_and_selected_name(consumer: Consumer) -> None:
    peer = consumer.peer("loc")
    app = consumer.app_namespace("loc")
    consumer.offload(
        app,
        podOffloadingStrategy="Local",
        namespaceMappingStrategy="SelectedName",
        remoteNamespaceName=f"x-{app}",
    )
    wait_for("the mapping", lambda: consumer.desired(peer).get(app) == f"x-{app}", 60)
    wait_for("status", lambda: consumer.status(app).get("remoteNamespaceName") == f"x-{app}")
    assert SCHEDULING not in consumer.labels_of(app)


# --- the webhooks ---------------------------------------------------------------------------


def created_pod(consumer: Consumer, namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    consumer.apply(pod(namespace, name, **spec))
    found = consumer.get("pod", name, "-n", namespace)
    assert found is not None
    return dict(found["spec"])


def required_terms(spec: dict[str, Any]) -> list[dict[str, Any]] | None:
    affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    return None if required is None else list(required["nodeSelectorTerms"])


def offloaded(consumer: Consumer, hint: str, **spec: Any) -> str:
    app = consumer.app_namespace(hint)
    consumer.offload(app, **spec)
    if spec.get("podOffloadingStrategy") != "Local":
        wait_for("the scheduling label",
                 lambda: consumer.labels_of(app).get(SCHEDULING) == "true", 60)  # fmt: skip
    return app


ON_VIRTUAL = {"key": "liqo.io/type", "operator": "In", "values": ["virtual-node"]}
OFF_VIRTUAL = {"key": "liqo.io/type", "operator": "NotIn", "values": ["virtual-node"]}
GPU = {"key": "gpu", "operator": "Exists"}


def test_the_pod_webhook_applies_each_strategy(consumer: Consumer) -> None:
    selector = {"nodeSelectorTerms": [{"matchExpressions": [GPU]}]}
    remote = offloaded(consumer, "remote", podOffloadingStrategy="Remote", clusterSelector=selector)
    spec = created_pod(consumer, remote, "p")
    assert TOLERATION in spec["tolerations"]
    assert required_terms(spec) == [{"matchExpressions": [GPU, ON_VIRTUAL]}]
    own = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "Exists"}]}]
            }
        }
    }
    spec = created_pod(consumer, remote, "own", affinity=own)
    assert required_terms(spec) == [{"matchExpressions": [
        {"key": "disk", "operator": "Exists"}, GPU, ON_VIRTUAL]}]  # fmt: skip
    spec = created_pod(consumer, remote, "rc", runtimeClassName="liqo")
    assert required_terms(spec) is None
    assert TOLERATION not in (spec.get("tolerations") or [])

    both = offloaded(consumer, "both", podOffloadingStrategy="LocalAndRemote",
                     clusterSelector=selector)  # fmt: skip
    spec = created_pod(consumer, both, "p")
    assert TOLERATION in spec["tolerations"]
    assert required_terms(spec) == [
        {"matchExpressions": [GPU]},
        {"matchExpressions": [OFF_VIRTUAL]},
    ]
    anywhere = offloaded(consumer, "anywhere")
    spec = created_pod(consumer, anywhere, "p")
    assert TOLERATION in spec["tolerations"] and required_terms(spec) is None

    local = offloaded(consumer, "local", podOffloadingStrategy="Local")
    spec = created_pod(consumer, local, "p")
    assert TOLERATION not in (spec.get("tolerations") or []) and required_terms(spec) is None


def test_pods_elsewhere_are_untouched_and_a_bare_label_refuses_pods(consumer: Consumer) -> None:
    plain = consumer.app_namespace("plain")
    spec = created_pod(consumer, plain, "p")
    assert TOLERATION not in (spec.get("tolerations") or [])
    consumer.patch("namespace", plain, body={"metadata": {"labels": {SCHEDULING: "true"}}})
    proc = consumer.cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(pod(plain, "q")),
                                    check=False)  # fmt: skip
    assert proc.returncode != 0
    assert "has no NamespaceOffloading 'offloading': create it or remove the label" in proc.stderr


def test_the_pod_webhook_is_scoped_to_offloaded_namespaces(consumer: Consumer) -> None:
    def selector() -> dict[str, Any] | None:
        configuration = consumer.get("mutatingwebhookconfiguration", consumer.configuration) or {}
        for webhook in configuration.get("webhooks") or []:
            if webhook["name"].startswith("pod.mutate."):
                return webhook.get("namespaceSelector")
        return None

    wait_for("the namespaceSelector", lambda: selector() == {"matchLabels": {SCHEDULING: "true"}})


def test_the_namespace_offloading_webhook(consumer: Consumer) -> None:
    app = consumer.app_namespace("wh")
    proc = consumer.cluster.kubectl("apply", "-f", "-", check=False, input=yaml.safe_dump({
        "apiVersion": API, "kind": "NamespaceOffloading",
        "metadata": {"name": "offloading", "namespace": app},
        "spec": {"clusterSelector": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "a", "operator": "In"}]}]}}}))  # fmt: skip
    assert proc.returncode != 0 and "must be specified for In" in proc.stderr
    consumer.offload(app, podOffloadingStrategy="LocalAndRemote")
    proc = consumer.cluster.kubectl("apply", "-f", "-", check=False, input=yaml.safe_dump({
        "apiVersion": API, "kind": "NamespaceOffloading",
        "metadata": {"name": "offloading", "namespace": app},
        "spec": {"namespaceMappingStrategy": "EnforceSameName"}}))  # fmt: skip
    assert proc.returncode != 0  # the CRD's rules refuse it before the webhook would
    assert "spec.namespaceMappingStrategy" in proc.stderr and "immutable" in proc.stderr
    other = consumer.app_namespace("wh2")
    proc = consumer.cluster.kubectl("apply", "-f", "-", check=False, input=yaml.safe_dump({
        "apiVersion": API, "kind": "NamespaceOffloading",
        "metadata": {"name": "offloading", "namespace": other},
        "spec": {"namespaceMappingStrategy": "SelectedName",
                 "remoteNamespaceName": "Not_A_Name"}}))  # fmt: skip
    assert proc.returncode != 0
    assert "spec.remoteNamespaceName: 'Not_A_Name': a lowercase RFC 1123 label" in proc.stderr
    consumer.offload(app, podOffloadingStrategy="Remote")  # admitted, with a warning:
    # The emulator does not pass webhook warnings on to clients (kube-apiserver sends them
    # as Warning headers), so the webhook is asked directly, as the API server would.
    old = consumer.offloading(app)
    assert old is not None
    new = {**old, "spec": {**old["spec"], "podOffloadingStrategy": "Local"}}
    answer = review(consumer, "namespaceoffloading.validate", old, new)
    assert answer["allowed"] is True
    assert answer["warnings"] == [
        "spec.podOffloadingStrategy changed to a more restrictive setting: existing pods "
        "violating the new policy keep running until they are recreated"
    ]


def review(
    consumer: Consumer, handler: str, old: dict[str, Any], new: dict[str, Any]
) -> dict[str, Any]:
    """POST an UPDATE AdmissionReview to the webhook of ``handler``; its ``response``."""
    configuration = consumer.get("validatingwebhookconfiguration", consumer.configuration) or {}
    [webhook] = [w for w in configuration["webhooks"] if w["name"].startswith(f"{handler}.")]
    client = webhook["clientConfig"]
    context = ssl.create_default_context(cadata=base64.b64decode(client["caBundle"]).decode())
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "test", "operation": "UPDATE", "object": new, "oldObject": old,
            "kind": {"group": "offloading.liqo.io", "version": "v1beta1",
                     "kind": "NamespaceOffloading"},
            "resource": {"group": "offloading.liqo.io", "version": "v1beta1",
                         "resource": "namespaceoffloadings"},
            "namespace": new["metadata"]["namespace"], "name": "offloading",
            "userInfo": {"username": "admin"},
        },
    }  # fmt: skip
    request = urllib.request.Request(
        client["url"], data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:
        return dict(json.loads(answer.read())["response"])


# --- the commands -----------------------------------------------------------------------------


class Liqoctl:
    """``liqoctl`` in-process, with this module's commands, against the consumer."""

    def __init__(self, consumer: Consumer, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
        self.consumer = consumer
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp / "cache"))
        monkeypatch.delenv("KUBECONFIG", raising=False)

        def add_commands(app: typer.Typer, state: CliState) -> bool:
            register_commands(app)
            return True

        monkeypatch.setattr(cli_app, "add_plugin_commands", add_commands)

    def run(self, *args: str) -> int:
        side = self.consumer.side
        return cli_app.run(
            ["--kubeconfig", str(side.cluster.kubeconfig), "--config", str(side.config), *args]
        )

    def background(self, *args: str) -> tuple[threading.Thread, list[int]]:
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(self.run(*args)), daemon=True)
        thread.start()
        return thread, result


@pytest.fixture
def liqoctl(consumer: Consumer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Liqoctl:
    return Liqoctl(consumer, monkeypatch, tmp_path)


def test_offload_and_unoffload_commands_wait_for_the_controller(
    consumer: Consumer, liqoctl: Liqoctl, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = consumer.peer("cli", zone="a")
    app = consumer.app_namespace("cli")
    thread, result = liqoctl.background(
        "offload", "namespace", app, "--namespace-mapping-strategy", "EnforceSameName",
        "--selector", "zone=a", "--timeout", "60",
    )  # fmt: skip
    wait_for("the mapping", lambda: consumer.desired(peer).get(app) == app, 60)
    assert thread.is_alive()  # waiting for the twin
    consumer.report(peer, app, "Accepted")
    thread.join(60)
    assert result == [0], capsys.readouterr()
    out = capsys.readouterr().out
    assert f"Namespace {app} offloaded: its remote namespaces are ready." in out

    thread, result = liqoctl.background("unoffload", "namespace", app, "--timeout", "60")
    wait_for("the mapping removed", lambda: app not in consumer.desired(peer), 60)
    assert thread.is_alive()  # waiting for the twin to go
    consumer.report(peer, app, None)
    thread.join(60)
    assert result == [0], capsys.readouterr()
    assert f"Namespace {app} unoffloaded" in capsys.readouterr().out
    assert consumer.offloading(app) is None


def test_offload_reports_a_failure(
    consumer: Consumer, liqoctl: Liqoctl, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = consumer.peer("fail", zone="f")
    app = consumer.app_namespace("fail")
    thread, result = liqoctl.background(
        "offload", "namespace", app, "--selector", "zone=f", "--timeout", "60"
    )
    wait_for("the mapping", lambda: app in consumer.desired(peer), 60)
    consumer.report(peer, app, "CreationLoopBackOff")
    thread.join(60)
    assert result == [1]
    err = capsys.readouterr().err
    assert (
        f"the offloading of namespace {app} failed: AllFailed ({peer}: CreationLoopBackOff)" in err
    )


# --- restarts -------------------------------------------------------------------------------


def test_a_restarted_controller_converges_and_drops_leftover_mappings(consumer: Consumer) -> None:
    peer = consumer.peer("rst", restart="yes")
    only = {"nodeSelectorTerms": [{"matchExpressions": [{"key": "restart", "operator": "Exists"}]}]}
    app = consumer.app_namespace("rst")
    consumer.offload(app, clusterSelector=only)
    twin = f"{app}-{consumer.cluster_id}"
    wait_for("the mapping", lambda: consumer.desired(peer).get(app) == twin, 60)
    wait_for("the scheduling label", lambda: consumer.labels_of(app).get(SCHEDULING) == "true")
    consumer.side.stop()
    try:  # while the controller is down, its work is undone, and a stale entry appears
        tenant = consumer.peers[peer]
        stale = {"spec": {"desiredMapping": {app: None, "gone-ns": "gone-ns-x"}}}
        consumer.patch("namespacemap", peer, "-n", tenant, body=stale)
        consumer.patch("namespace", app, body={"metadata": {"labels": {SCHEDULING: None}}})
    finally:
        consumer.side.start()
    wait_for(
        "the mapping back, the stale one gone",
        lambda: consumer.desired(peer).get(app) == twin and "gone-ns" not in consumer.desired(peer),
        90,
    )
    wait_for("the label back", lambda: consumer.labels_of(app).get(SCHEDULING) == "true", 30)
