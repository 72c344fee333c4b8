"""The provider's ShadowPod controller and webhooks end to end: a controller-manager with
the offloading module (and its webhooks) against a cluster.

ShadowPods are written as a consumer's virtual kubelet writes them: by a client
certificate user (CN = the slice user, O = the consumer cluster id, as the ResourceSlice
identity) in a twin namespace made by the NamespaceMap controller, whose RoleBinding
gives that group ClusterRole ``liqo-virtual-kubelet-remote``. The bare cluster runs no
pods, so the test plays the kubelet by writing the Pod's status. Everything is observed
through the API, so the test holds on a real cluster too.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from e2e_support import wait_for
from offloading_e2e_support import (
    API,
    ClusterView,
    kubeconfig_as,
    namespace_map,
    offloading_side,
    tenant_namespace,
)

from liqo_core.testing.clusters import ClusterHandle

pytestmark = pytest.mark.e2e

REMOTE_ROLE = "liqo-virtual-kubelet-remote"
CREATOR = "liqo.io/creator-user"


def client_kubeconfig(cluster: ClusterHandle, user: str, group: str, path: Path) -> Path:
    """A kubeconfig authenticating as ``user`` in ``group`` with a client certificate the
    cluster signs (CSR approved by the admin)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, user),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, group),
    ])  # fmt: skip
    request = (
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )
    name = f"liqo-test-{user}"
    pem_request = request.public_bytes(serialization.Encoding.PEM)
    csr = {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"request": base64.b64encode(pem_request).decode(),
                 "signerName": "kubernetes.io/kube-apiserver-client",
                 "usages": ["client auth"], "expirationSeconds": 7200},
    }  # fmt: skip
    cluster.kubectl("create", "-f", "-", input=json.dumps(csr))
    try:
        cluster.kubectl("certificate", "approve", name)
        certificate = wait_for("the signed certificate", lambda: json.loads(
            cluster.kubectl("get", "csr", name, "-o", "json").stdout).get("status", {})
            .get("certificate"))  # fmt: skip
    finally:
        cluster.kubectl("delete", "csr", name, check=False)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    user_credentials = {
        "client-certificate-data": certificate,
        "client-key-data": base64.b64encode(pem).decode(),
    }
    kubeconfig_as(cluster, user_credentials, path)
    return path


@dataclass
class Provider(ClusterView):
    """A provider with the offloading module and its webhooks, a consumer's tenant
    namespace, a twin namespace, and the consumer's virtual-kubelet user."""

    consumer: str
    tenant: str
    twin: str
    user: str
    user_kubeconfig: Path

    def as_user(self, *args: str, input: str | None = None) -> Any:
        """kubectl as the consumer's virtual kubelet (not checked)."""
        return self.cluster.kubectl(
            "--kubeconfig", str(self.user_kubeconfig), *args, input=input, check=False
        )

    def create(self, obj: dict[str, Any], *flags: str) -> Any:
        return self.as_user("create", *flags, "-f", "-", input=json.dumps(obj))

    def shadow(self, name: str, *containers: dict[str, Any], origin: str = "") -> dict[str, Any]:
        labels = {
            "offloading.liqo.io/origin": origin or self.consumer,
            "offloading.liqo.io/destination": f"provider-{self.suffix}",
            "offloading.liqo.io/nodename": "vn",
            "team": "x",
        }
        pod = {"containers": list(containers or [container()]), "terminationGracePeriodSeconds": 5}
        return {
            "apiVersion": API, "kind": "ShadowPod",
            "metadata": {"name": name, "namespace": self.twin, "labels": labels},
            "spec": {"pod": pod},
        }  # fmt: skip

    def shadow_pod(self, name: str) -> dict[str, Any] | None:
        return self.get("shadowpod", name, "-n", self.twin)

    def pod(self, name: str) -> dict[str, Any] | None:
        return self.get("pod", name, "-n", self.twin)

    def phase(self, name: str) -> str | None:
        return ((self.shadow_pod(name) or {}).get("status") or {}).get("phase")

    def report(self, name: str, phase: str) -> None:
        """Play the kubelet: the Pod's phase."""
        self.patch("pod", name, "-n", self.twin, body={"status": {"phase": phase}}, status=True)

    def quota(self, enforcement: str, *, cordoned: bool = False) -> None:
        self.apply({
            "apiVersion": API, "kind": "Quota",
            "metadata": {"name": self.user, "namespace": self.tenant},
            "spec": {"user": self.user, "limitsEnforcement": enforcement, "cordoned": cordoned,
                     "resources": {"cpu": "2", "memory": "4Gi"}},
        })  # fmt: skip


def container(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> Any:
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    return {"name": "app", "image": "app:1", "resources": resources}


@pytest.fixture
def provider(kube_cluster: ClusterHandle, tmp_path: Path) -> Iterator[Provider]:
    """The offloading module with its webhooks, a twin namespace for a consumer and the
    consumer's user; everything removed afterwards."""
    with offloading_side(kube_cluster, tmp_path, "provider", cluster_roles=[REMOTE_ROLE]) as setup:
        consumer, tenant, twin = setup.peer, setup.tenant, f"app-{setup.suffix}"
        user = f"vk-user-{setup.suffix}"
        kubeconfig = client_kubeconfig(kube_cluster, user, consumer, tmp_path / "user.kubeconfig")
        provider = Provider(setup.side, setup.suffix, consumer, tenant, twin, user, kubeconfig)
        provider.apply(
            tenant_namespace(consumer),
            namespace_map(setup.side.cluster_id, tenant, consumer, {"app": twin}, replicated=True),
        )
        setup.start(webhook_prefix="shadowpod.")
        wait_for("the twin namespace's RoleBinding",
                 lambda: provider.get("rolebinding", tenant, "-n", twin), 60)  # fmt: skip
        yield provider


def test_a_shadow_pod_keeps_its_pod(provider: Provider) -> None:
    p = provider
    p.quota("None")
    proc = p.create(p.shadow("web", container({"cpu": "100m"})))
    assert proc.returncode == 0, proc.stderr

    # The creator is the requesting user; the Pod has the ShadowPod's name, labels, spec.
    shadow = p.shadow_pod("web")
    assert shadow is not None and shadow["metadata"]["labels"][CREATOR] == p.user
    pod = wait_for("the Pod", lambda: p.pod("web"), 60)
    labels = pod["metadata"]["labels"]
    assert labels["liqo.io/managed-by"] == "shadowpod"
    assert labels["team"] == "x" and labels[CREATOR] == p.user
    assert labels["offloading.liqo.io/origin"] == p.consumer
    [owner] = pod["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": API, "kind": "ShadowPod", "name": "web",
        "uid": shadow["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True,
    }  # fmt: skip
    assert pod["spec"]["containers"][0]["image"] == "app:1"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 5

    # Its phase is mirrored.
    wait_for("the Pending phase mirrored", lambda: p.phase("web") == "Pending")
    p.report("web", "Running")
    wait_for("the Running phase mirrored", lambda: p.phase("web") == "Running")
    events = [
        e.reason for e in p.side.events(p.twin, "web") if e.involved_object.kind == "ShadowPod"
    ]
    assert "CreatedPod" in events

    # Deleted, the Pod comes back.
    uid = pod["metadata"]["uid"]
    p.cluster.kubectl("delete", "pod", "web", "-n", p.twin, "--wait=false")
    wait_for("the Pod recreated", lambda: (new := p.pod("web")) is not None
             and new["metadata"]["uid"] != uid, 60)  # fmt: skip

    # Labels follow the ShadowPod, the spec never changes in place.
    image = {**container({"cpu": "100m"}), "image": "app:2"}
    update = {"metadata": {"labels": {"team": "y"}}, "spec": {"pod": {"containers": [image]}}}
    proc = p.as_user("patch", "shadowpod", "web", "-n", p.twin, "--type=merge",
                     "-p", json.dumps(update))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    wait_for(
        "the label on the Pod", lambda: (p.pod("web") or {})["metadata"]["labels"]["team"] == "y"
    )
    assert (p.pod("web") or {})["spec"]["containers"][0]["image"] == "app:1"

    # Only the creator may update it, and only images, deadlines and tolerations.
    proc = p.cluster.kubectl("label", "shadowpod", "web", "-n", p.twin, "x=1", check=False)
    assert proc.returncode != 0 and f"only its creator '{p.user}' may update" in proc.stderr
    change = {"spec": {"pod": {"containers": [{**container(), "command": ["sh"]}]}}}
    proc = p.as_user("patch", "shadowpod", "web", "-n", p.twin, "--type=merge",
                     "-p", json.dumps(change))  # fmt: skip
    assert proc.returncode != 0 and "spec.pod is immutable" in proc.stderr

    # Deleted, the ShadowPod takes its Pod along.
    proc = p.as_user("delete", "shadowpod", "web", "-n", p.twin)
    assert proc.returncode == 0, proc.stderr
    wait_for("the Pod gone", lambda: p.pod("web") is None, 60)


def _refusal(p: Provider, shadow: dict[str, Any]) -> str | None:
    """The refusal of a server-side dry run of ``shadow`` (``None``: it would be admitted)."""
    proc = p.create(shadow, "--dry-run=server")
    return None if proc.returncode == 0 else str(proc.stderr)


def _refused_with(p: Provider, shadow: dict[str, Any], text: str) -> bool:
    """Whether a dry run of ``shadow`` is refused saying ``text`` (the webhook's caches
    follow Quota changes shortly after they are written)."""
    return text in (_refusal(p, shadow) or "")


def test_the_quota_of_the_creator_is_enforced(provider: Provider) -> None:
    p = provider
    exact = {"cpu": "1500m", "memory": "1Gi"}
    p.quota("Soft")

    # Soft: requests are required, and must fit with the creator's other pods.
    soft = "container 'app' sets no cpu and memory requests (required by limitsEnforcement Soft)"
    wait_for("the Soft quota in force", lambda: _refused_with(p, p.shadow("bare"), soft))
    assert p.create(p.shadow("a", container(exact))).returncode == 0
    proc = p.create(p.shadow("b", container({"cpu": "1", "memory": "1Gi"})))
    assert proc.returncode != 0
    assert (
        f"ShadowPod {p.twin}/b: the cpu quota of user '{p.user}' is exceeded: requested 1, "
        "in use 1500m of 2 (free 500m)"
    ) in proc.stderr

    # Hard: limits equal to the requests.
    p.quota("Hard")
    unequal = p.shadow("b", container({"cpu": "500m", "memory": "1Gi"}))
    hard = "its cpu limit (none) must equal its request (500m) (limitsEnforcement Hard)"
    wait_for("the Hard quota in force", lambda: _refused_with(p, unequal, hard))
    equal = {"cpu": "500m", "memory": "1Gi"}
    assert p.create(p.shadow("b", container(equal, equal))).returncode == 0

    # None: nothing required, but what is requested still counts.
    p.quota("None")
    wait_for("the None quota in force", lambda: _refusal(p, p.shadow("c")) is None)
    assert p.create(p.shadow("c")).returncode == 0
    proc = p.create(p.shadow("d", container({"cpu": "100m"})))
    assert proc.returncode != 0 and "requested 100m, in use 2 of 2 (free 0)" in proc.stderr

    # Cordoned: nothing new, but deletions are always allowed.
    p.quota("None", cordoned=True)
    cordoned = f"the Quota of user '{p.user}' is cordoned: no new pods are accepted"
    wait_for("the cordon in force", lambda: _refused_with(p, p.shadow("e"), cordoned))
    for name in ("a", "b", "c"):
        proc = p.as_user("delete", "shadowpod", name, "-n", p.twin)
        assert proc.returncode == 0, proc.stderr

    # The origin must be the namespace's cluster; a user without a Quota gets nothing.
    p.quota("None")
    wait_for("the cordon lifted", lambda: _refusal(p, p.shadow("e")) is None)
    refusal = _refusal(p, p.shadow("e", origin="someone-else"))
    assert refusal is not None and "does not match the cluster of namespace" in refusal
    proc = p.cluster.kubectl("create", "-f", "-", input=json.dumps(p.shadow("f")), check=False)
    assert proc.returncode != 0 and "no Quota for user" in proc.stderr
