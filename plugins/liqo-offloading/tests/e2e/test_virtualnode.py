"""The VirtualNode controller end to end: a controller-manager with the offloading module
(and its webhooks) against a cluster, VirtualNodes written by hand.

Nothing runs pods or Deployments on a bare cluster, so the test plays their parts
through the API as a real cluster would: it reports the virtual kubelet Deployment ready
(the Deployment controller), registers the Node and finishes the deletion of the pods
bound to it (the virtual kubelet). Everything is observed through the API, so the test
holds on a real cluster too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_support import wait_for
from offloading_e2e_support import (
    NO_FINALIZERS,
    ClusterView,
    condition,
    offloading_side,
    pod,
    tenant_namespace,
    virtual_kubelet_node,
    virtual_node,
)

from liqo_core.testing.clusters import ClusterHandle

pytestmark = pytest.mark.e2e

FINALIZER = "virtualnode-controller.liqo.io/finalizer"
HOLD = "liqo-test/hold"


@dataclass
class Consumer(ClusterView):
    """A consumer cluster with the offloading module running, and a fake peer."""

    provider: str
    tenant: str

    def vn(self, name: str) -> dict[str, Any] | None:
        return self.get("virtualnode", name, "-n", self.tenant)

    def condition(self, name: str, kind: str) -> str | None:
        return condition(self.vn(name), kind)

    def deployment(self, name: str) -> dict[str, Any] | None:
        return self.get("deployment", f"vk-{name}", "-n", self.tenant)

    def namespace_maps(self) -> list[dict[str, Any]]:
        return self.items("namespacemaps", "-A", "-l", f"liqo.io/remoteID={self.provider}")

    def report_ready(self, name: str) -> None:
        """Play the Deployment controller: one ready replica."""
        status = {"status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}}
        self.patch("deployment", f"vk-{name}", "-n", self.tenant, body=status, status=True)

    def register_node(self, name: str) -> None:
        """Play the virtual kubelet: register its Ready Node."""
        self.apply(virtual_kubelet_node(name, self.provider))
        ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"}
        self.patch("node", name, body={"status": {"conditions": [ready]}}, status=True)

    def bound_pod(self, name: str, node: str) -> None:
        self.apply(pod(self.tenant, name, nodeName=node, terminationGracePeriodSeconds=30))

    def finish_terminating_pods(self, node: str) -> bool:
        """Play the virtual kubelet: pods it was asked to delete go away. True once none
        is left on ``node``."""
        pods = self.items("pods", "-A", "--field-selector", f"spec.nodeName={node}")
        for found in pods:
            meta = found["metadata"]
            if meta.get("deletionTimestamp"):
                self.cluster.kubectl(
                    "delete", "pod", meta["name"], "-n", meta["namespace"], "--grace-period=0",
                    "--force", "--wait=false", check=False,
                )  # fmt: skip
        return not pods

    def virtual_node(self, name: str, **spec: Any) -> dict[str, Any]:
        return virtual_node(name, self.tenant, self.provider, **spec)


@contextmanager
def running_consumer(
    cluster: ClusterHandle,
    tmp: Path,
    modules: list[str],
    extra: dict[str, Any] | None = None,
    *,
    webhooks: bool = True,
) -> Iterator[Consumer]:
    """A controller-manager side with ``modules`` (and the offloading webhooks), a tenant
    namespace for a peer, the chart's default VkOptionsTemplate; all removed afterwards."""
    with offloading_side(
        cluster, tmp, "consumer", modules=modules, webhooks=webhooks, settings=extra
    ) as setup:
        consumer = Consumer(setup.side, setup.suffix, setup.peer, setup.tenant)
        consumer.apply(tenant_namespace(setup.peer), setup.template(labelsNotReflected=["team"]))
        try:
            setup.start()
            yield consumer
        finally:
            for vn in consumer.items("virtualnodes", "-n", consumer.tenant):
                setup.side.kubectl("delete", "virtualnode", vn["metadata"]["name"], "-n",
                                   consumer.tenant, "--wait=false", check=False)  # fmt: skip


@pytest.fixture
def consumer(kube_cluster: ClusterHandle, tmp_path: Path) -> Iterator[Consumer]:
    """The offloading module alone (no authentication)."""
    with running_consumer(kube_cluster, tmp_path, ["offloading"]) as running:
        yield running


@pytest.fixture
def consumer_without_webhooks(kube_cluster: ClusterHandle, tmp_path: Path) -> Iterator[Consumer]:
    """The offloading module alone, its webhooks off (as in the sandbox)."""
    with running_consumer(kube_cluster, tmp_path, ["offloading"], webhooks=False) as running:
        yield running


def _args(deployment: dict[str, Any]) -> list[str]:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return list(container["args"])


def test_a_virtual_node_gets_its_kubelet_namespace_map_and_conditions(consumer: Consumer) -> None:
    name = f"vn-a-{consumer.suffix}"
    consumer.apply(consumer.virtual_node(name))

    deployment = wait_for("the virtual kubelet Deployment", lambda: consumer.deployment(name), 60)
    args = _args(deployment)
    side = consumer.side
    for expected in (
        f"--foreign-cluster-id={consumer.provider}",
        "--foreign-kubeconfig-secret-name=kubeconfig-x",
        f"--nodename={name}",
        "--node-ip=$(POD_IP)",
        f"--tenant-namespace={consumer.tenant}",
        f"--liqo-namespace={side.namespace}",
        f"--home-cluster-id={side.cluster_id}",
        "--create-node=true",
        "--node-check-network=true",
        "--pod-reflection-workers=10",
    ):
        assert expected in args, (expected, args)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["liqo", "virtual-kubelet"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == name
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "virtual-kubelet"
    assert labels["liqo.io/remote-cluster-id"] == consumer.provider

    vn = consumer.vn(name)
    assert vn is not None and FINALIZER in vn["metadata"]["finalizers"]
    # The mutating webhook defaulted the spec from the template.
    assert vn["spec"]["vkOptionsTemplateRef"] == {
        "namespace": consumer.side.namespace, "name": "virtual-kubelet-default",
    }  # fmt: skip
    assert vn["spec"]["createNode"] is True
    assert vn["spec"]["offloadingPatch"]["labelsNotReflected"] == ["team"]
    assert consumer.get("serviceaccount", name, "-n", consumer.tenant) is not None
    binding = consumer.get("clusterrolebinding", f"liqo-node-{name}")
    assert binding is not None and binding["roleRef"]["name"] == "liqo-virtual-kubelet-local"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": name, "namespace": consumer.tenant}
    ]
    [nm] = wait_for("the NamespaceMap", consumer.namespace_maps)
    assert (nm["metadata"]["name"], nm["metadata"]["namespace"]) == (
        consumer.provider,
        consumer.tenant,
    )
    assert nm["metadata"]["labels"]["liqo.io/replication"] == "true"

    wait_for(
        "VirtualKubelet Creating", lambda: consumer.condition(name, "VirtualKubelet") == "Creating"
    )
    assert consumer.condition(name, "Node") == "Creating"
    consumer.report_ready(name)
    wait_for(
        "VirtualKubelet Running", lambda: consumer.condition(name, "VirtualKubelet") == "Running"
    )
    consumer.register_node(name)
    wait_for("Node Running", lambda: consumer.condition(name, "Node") == "Running")

    # A second node of the same peer shares the NamespaceMap.
    second = f"vn-b-{consumer.suffix}"
    consumer.apply(consumer.virtual_node(second))
    wait_for("the second Deployment", lambda: consumer.deployment(second), 60)
    assert len(consumer.namespace_maps()) == 1

    # A Node named like an existing one is refused, in one line saying what to do.
    clash = consumer.virtual_node(name)
    clash["metadata"]["namespace"] = consumer.side.namespace
    proc = consumer.cluster.kubectl("create", "-f", "-", input=json.dumps(clash), check=False)
    assert proc.returncode != 0
    assert f"a Node named '{name}' exists already" in proc.stderr
    # The peer of a VirtualNode cannot change.
    proc = consumer.cluster.kubectl(
        "patch", "virtualnode", second, "-n", consumer.tenant, "--type=merge",
        "-p", '{"spec": {"clusterID": "someone-else"}}', check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and "spec.clusterID is immutable" in proc.stderr

    # createNode false: the Node is drained and deleted, the virtual kubelet stays.
    consumer.bound_pod("app", name)
    consumer.cluster.kubectl(
        "patch", "virtualnode", name, "-n", consumer.tenant, "--type=merge",
        "-p", '{"spec": {"createNode": false}}',
    )  # fmt: skip
    wait_for("the pods drained", lambda: consumer.finish_terminating_pods(name), 60)
    wait_for("the Node deleted", lambda: consumer.get("node", name) is None, 60)
    wait_for("Node None", lambda: consumer.condition(name, "Node") == "None")
    deployment = wait_for(
        "the kubelet told not to create the Node",
        lambda: (d := consumer.deployment(name)) and "--create-node=false" in _args(d) and d,
    )
    assert consumer.condition(name, "VirtualKubelet") == "Running"
    status = (consumer.vn(name) or {})["status"]
    assert status["effectiveCreateNode"] is False

    # Deleting the first node keeps the NamespaceMap: the peer has another node.
    consumer.cluster.kubectl("delete", "virtualnode", name, "-n", consumer.tenant, "--wait=false")
    wait_for("the first VirtualNode gone", lambda: consumer.vn(name) is None, 60)
    assert consumer.deployment(name) is None
    assert consumer.get("serviceaccount", name, "-n", consumer.tenant) is None
    assert consumer.get("clusterrolebinding", f"liqo-node-{name}") is None
    assert len(consumer.namespace_maps()) == 1


def test_deletion_resumes_after_a_restart_and_drops_the_last_namespace_map(
    consumer_without_webhooks: Consumer,
) -> None:
    consumer = consumer_without_webhooks
    name = f"vn-c-{consumer.suffix}"
    consumer.apply(consumer.virtual_node(name))
    wait_for("the virtual kubelet Deployment", lambda: consumer.deployment(name), 60)
    # No webhook defaulted the spec: the controller applied the template's defaults.
    status = wait_for("the effective switches", lambda: (consumer.vn(name) or {}).get("status"))
    assert "vkOptionsTemplateRef" not in (consumer.vn(name) or {})["spec"]
    patch = status["effectiveOffloadingPatch"]
    assert patch["labelsNotReflected"] == ["team"]
    assert "metallb.universe.tf/address-pool" in patch["annotationsNotReflected"]
    assert (status["effectiveCreateNode"], status["effectiveDisableNetworkCheck"]) == (True, False)
    wait_for("the NamespaceMap", consumer.namespace_maps)
    consumer.report_ready(name)
    consumer.register_node(name)
    wait_for("Node Running", lambda: consumer.condition(name, "Node") == "Running")
    consumer.bound_pod("offloaded", name)
    # A virtual kubelet pod that terminates slowly (a finalizer the test holds).
    deployment = consumer.deployment(name)
    assert deployment is not None
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"vk-{name}",
             "uid": deployment["metadata"]["uid"]}  # fmt: skip
    kubelet_pod = pod(consumer.tenant, f"vk-{name}-0", labels,
                      containers=[{"name": "virtual-kubelet", "image": "liqo"}])  # fmt: skip
    kubelet_pod["metadata"] |= {"finalizers": [HOLD], "ownerReferences": [owner]}
    consumer.apply(kubelet_pod)

    consumer.cluster.kubectl("delete", "virtualnode", name, "-n", consumer.tenant, "--wait=false")
    wait_for("Node Draining", lambda: consumer.condition(name, "Node") == "Draining")
    node = consumer.get("node", name)
    assert node is not None and node["spec"]["unschedulable"] is True
    wait_for("the pods drained", lambda: consumer.finish_terminating_pods(name), 60)
    wait_for("the Deployment deleted", lambda: consumer.deployment(name) is None, 60)
    wait_for("waiting for the kubelet pods",
             lambda: consumer.condition(name, "VirtualKubelet") == "Deleting")  # fmt: skip
    assert consumer.get("node", name) is not None  # only once the kubelet is gone
    assert consumer.namespace_maps()

    consumer.side.stop()
    consumer.patch("pod", f"vk-{name}-0", "-n", consumer.tenant, body=NO_FINALIZERS)
    consumer.side.start()

    wait_for("the VirtualNode gone", lambda: consumer.vn(name) is None, 90)
    assert consumer.get("node", name) is None
    assert consumer.get("clusterrolebinding", f"liqo-node-{name}") is None
    assert consumer.get("serviceaccount", name, "-n", consumer.tenant) is None
    wait_for(
        "the NamespaceMap gone with the last VirtualNode", lambda: not consumer.namespace_maps()
    )


def test_a_granted_slice_gets_a_virtual_node_that_follows_it(
    kube_cluster: ClusterHandle, tmp_path: Path
) -> None:
    """With the authentication module: ResourceSlice → Identity → kubeconfig Secret (the
    authentication module's controllers) → VirtualNode (the offloading module's)."""
    no_auth_webhook = {"authentication": {"webhook": {"enabled": False}}}
    modules = ["authentication", "offloading"]
    with running_consumer(kube_cluster, tmp_path, modules, no_auth_webhook) as consumer:
        name, tenant, provider = f"slice-{consumer.suffix}", consumer.tenant, consumer.provider
        consumer.apply({
            "apiVersion": "authentication.liqo.io/v1beta1", "kind": "ResourceSlice",
            "metadata": {
                "name": name, "namespace": tenant,
                "labels": {"liqo.io/replication": "true", "liqo.io/remoteID": provider,
                           "liqo.io/remote-cluster-id": provider},
                "annotations": {"liqo.io/create-virtual-node": "true"},
            },
            "spec": {"class": "default", "resources": {"cpu": "2"}},
        })  # fmt: skip
        accepted = [{"type": kind, "status": "Accepted", "reason": "Granted", "message": "ok"}
                    for kind in ("Authentication", "Resources")]  # fmt: skip
        status = {
            "conditions": accepted,
            "resources": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "authParams": {"apiServer": "https://provider.example:6443", "token": "t0ken"},
            "nodeLabels": {"zone": "eu"},
            "nodeSelector": {"pool": "a"},
        }

        def grant(status: dict[str, Any]) -> None:
            consumer.patch("resourceslice", name, "-n", tenant, body={"status": status},
                           status=True)  # fmt: skip

        grant(status)
        vn = wait_for("the slice's VirtualNode", lambda: consumer.vn(name), 90)
        assert vn["metadata"]["labels"]["liqo.io/resourceslice-name"] == name
        [owner] = vn["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("ResourceSlice", name, True)
        spec = vn["spec"]
        assert spec["clusterID"] == provider
        assert spec["kubeconfigSecretRef"] == {"name": f"kubeconfig-resourceslice-{name}"}
        assert consumer.get("secret", f"kubeconfig-resourceslice-{name}", "-n", tenant)
        assert spec["resourceQuota"]["hard"] == {"cpu": "4", "memory": "8Gi", "pods": "110"}
        assert spec["labels"] == {"liqo.io/remote-cluster-id": provider, "zone": "eu"}
        assert spec["offloadingPatch"]["nodeSelector"] == {"pool": "a"}
        wait_for("its virtual kubelet", lambda: consumer.deployment(name), 60)

        grant({"resources": {"cpu": "8", "memory": "8Gi", "pods": None}})
        wait_for(
            "the VirtualNode following the grant",
            lambda: ((consumer.vn(name) or {})["spec"]["resourceQuota"]["hard"]
                     == {"cpu": "8", "memory": "8Gi"}),
        )  # fmt: skip
