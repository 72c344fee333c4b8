"""The declarative authentication handshake between two clusters, end to end.

Each cluster runs ``liqo controller-manager`` with the authentication module only; the
administrators' side is played with ``liqoctl`` and kubectl. Provider P issues a nonce,
consumer C signs it and forges its Tenant, P verifies it and issues credentials, P forges
C's Identity and C turns it into a kubeconfig that can do exactly what the
``remote-controlplane`` role allows in C's tenant namespace on P. Refused handshakes
(forged signature, wrong CSR subject, another consumer's nonce) issue nothing.
Everything is observed through the Kubernetes API, so the test holds on real clusters.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import wait_for
from kubernetes import client
from liqo_auth import crypto, forge
from liqo_sides import Side, running_sides
from peering_support import create_nonce, generate_identity, generate_tenant, tenant_credentials

from liqo_core.testing.clusters import ClusterPool

pytestmark = pytest.mark.e2e


@dataclass
class Peering:
    provider: Side
    consumer: Side
    suffix: str


@pytest.fixture(scope="module")
def peering(
    kube_cluster_pool: ClusterPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Peering]:
    clusters = kube_cluster_pool.get(2)
    tmp = tmp_path_factory.mktemp("auth")
    with running_sides(clusters, ["provider", "consumer"], tmp) as (suffix, (provider, consumer)):
        yield Peering(provider, consumer, suffix)


def _private_key_fragments(side: Side) -> list[str]:
    """Distinctive pieces of a cluster's private key, as PEM lines and base64 of the PEM."""
    data = side.secret_data(side.namespace, "authentication-keys") or {}
    pem = data["privateKey"]
    lines = [line for line in pem.decode().splitlines() if not line.startswith("-----")]
    return [*lines, base64.b64encode(pem).decode()[20:60]]


def _reasons(side: Side, namespace: str, name: str) -> list[str]:
    return [event.reason for event in side.events(namespace, name)]


def test_declarative_handshake_issues_a_scoped_kubeconfig(peering: Peering, tmp_path: Path) -> None:
    p, c = peering.provider, peering.consumer

    # P: nonce for C, in C's tenant namespace.
    nonce = create_nonce(p, c)
    assert len(base64.b64decode(nonce)) == 64
    assert p.liqoctl("get", "nonce", "--remote-cluster-id", c.cluster_id).stdout.strip() == nonce
    tenant_ns = f"liqo-tenant-{c.cluster_id}"
    wait_for("NonceGenerated", lambda: _reasons(p, tenant_ns, "liqo-nonce") == ["NonceGenerated"])

    # C: sign it and forge the Tenant; P applies it.
    generated = generate_tenant(p, c, nonce)
    tenant = yaml.safe_load(generated)
    assert tenant["metadata"]["name"] == c.cluster_id
    assert tenant["metadata"]["namespace"] == tenant_ns
    assert tenant["spec"]["clusterID"] == c.cluster_id
    c_tenant_ns = f"liqo-tenant-{p.cluster_id}"
    wait_for(
        "NonceSigned", lambda: _reasons(c, c_tenant_ns, "liqo-signed-nonce") == ["NonceSigned"]
    )
    p.kubectl("apply", "-f", "-", input=generated)

    done = tenant_credentials(p, c)
    assert done["status"]["tenantNamespace"] == tenant_ns
    assert "tenant.liqo.io/finalizer" in done["metadata"]["finalizers"]
    params = done["status"]["authParams"]
    assert params["apiServer"].startswith("https://")
    certificate = base64.b64decode(params["signedCRT"])
    validity = crypto.certificate_validity(certificate)
    assert validity is not None
    public = crypto.load_public_key(base64.b64decode(tenant["spec"]["publicKey"]))
    assert crypto.same_public_key(validity.public_key, public)
    stored = p.secret_data(tenant_ns, "liqo-remote-certificate") or {}
    assert stored.get("certificate") == certificate
    bindings = client.RbacAuthorizationV1Api(p.api)
    role_binding: Any
    cluster_binding: Any
    [role_binding] = bindings.list_namespaced_role_binding(
        tenant_ns, label_selector=f"liqo.io/remote-cluster-id={c.cluster_id}"
    ).items
    assert role_binding.role_ref.name == "liqo-remote-controlplane"
    assert [(s.kind, s.name) for s in role_binding.subjects] == [("User", c.cluster_id)]
    [cluster_binding] = bindings.list_cluster_role_binding(
        label_selector=f"liqo.io/remote-cluster-id={c.cluster_id}"
    ).items
    assert cluster_binding.role_ref.name == "liqo-virtual-kubelet-remote-clusterwide"
    assert [(s.kind, s.name) for s in cluster_binding.subjects] == [("Group", c.cluster_id)]

    # P: forge C's Identity; C applies it and gets a kubeconfig Secret.
    identity = generate_identity(p, c)
    identity_json = json.dumps(identity)
    assert identity["metadata"]["name"] == f"controlplane-{p.cluster_id}"
    assert identity["spec"]["namespace"] == tenant_ns
    c.kubectl("apply", "-f", "-", input=identity_json)
    secret_name = f"kubeconfig-controlplane-{p.cluster_id}"
    wait_for("the kubeconfig Secret", lambda: c.secret_data(c_tenant_ns, secret_name))
    secret: Any = c.core.read_namespaced_secret(secret_name, c_tenant_ns)
    assert secret.metadata.labels["liqo.io/remote-cluster-id"] == p.cluster_id
    assert secret.metadata.labels["liqo.io/identity-type"] == "ControlPlane"
    assert secret.metadata.annotations["liqo.io/remote-tenant-namespace"] == tenant_ns
    assert [o.kind for o in secret.metadata.owner_references] == ["Identity"]

    # The kubeconfig: what remote-controlplane allows in the tenant namespace, nothing else.
    kubeconfig = tmp_path / "remote.kubeconfig"
    kubeconfig.write_bytes(base64.b64decode(secret.data["kubeconfig"]))
    as_consumer = ["kubectl", "--kubeconfig", str(kubeconfig)]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*as_consumer, *args], capture_output=True, text=True, timeout=30, check=False
        )

    allowed = run("get", "resourceslices.authentication.liqo.io", "-n", tenant_ns)
    assert allowed.returncode == 0, allowed.stderr
    for denied in (
        run("get", "secrets", "-n", tenant_ns),
        run("get", "resourceslices.authentication.liqo.io", "-n", "default"),
        run("get", "namespaces"),
    ):
        assert denied.returncode != 0
        assert "Forbidden" in denied.stderr or "forbidden" in denied.stderr, denied.stderr

    # No CSR is left behind; no private key leaks into events or logs.
    csrs = client.CertificatesV1Api(p.api).list_certificate_signing_request(
        label_selector=f"liqo.io/remote-cluster-id={c.cluster_id}"
    )
    assert csrs.items == []
    _assert_no_key_material(peering)

    # Restart-safe and idempotent: a restarted provider restores a deleted binding but
    # neither re-signs, nor asks for a second certificate, nor replaces its key pair.
    key_before = p.private_key()
    p.stop()
    bindings.delete_namespaced_role_binding(role_binding.metadata.name, tenant_ns)
    p.start()
    wait_for(
        "the RoleBinding restored",
        lambda: (
            bindings.list_namespaced_role_binding(
                tenant_ns, label_selector=f"liqo.io/remote-cluster-id={c.cluster_id}"
            ).items
        ),
    )
    again = p.tenant(tenant_ns, c.cluster_id) or {}
    assert again["status"]["authParams"]["signedCRT"] == params["signedCRT"]
    assert (p.secret_data(tenant_ns, "liqo-remote-certificate") or {})["certificate"] == certificate

    assert p.private_key() == key_before

    # New authParams on the Identity rewrite the kubeconfig.
    proxy: dict[str, Any] = {"spec": {"authParams": {"proxyURL": "http://proxy.example:8118"}}}
    c.custom.patch_namespaced_custom_object(
        "authentication.liqo.io", "v1beta1", c_tenant_ns, "identities",
        identity["metadata"]["name"], proxy,
    )  # fmt: skip
    wait_for(
        "the kubeconfig rewritten",
        lambda: b"proxy.example" in (c.secret_data(c_tenant_ns, secret_name) or {})["kubeconfig"],
    )
    proxy["spec"]["authParams"]["proxyURL"] = None  # back to a working kubeconfig
    c.custom.patch_namespaced_custom_object(
        "authentication.liqo.io", "v1beta1", c_tenant_ns, "identities",
        identity["metadata"]["name"], proxy,
    )  # fmt: skip
    wait_for(
        "the kubeconfig restored",
        lambda: b"proxy" not in (c.secret_data(c_tenant_ns, secret_name) or {})["kubeconfig"],
    )

    # Deleting the Tenant removes what it granted, then the finalizer.
    p.kubectl("delete", "tenant", c.cluster_id, "-n", tenant_ns, "--wait=false")
    wait_for("the Tenant gone", lambda: p.tenant(tenant_ns, c.cluster_id) is None)
    assert p.secret_data(tenant_ns, "liqo-remote-certificate") is None
    assert not bindings.list_cluster_role_binding(
        label_selector=f"liqo.io/remote-cluster-id={c.cluster_id}"
    ).items
    assert not bindings.list_namespaced_role_binding(tenant_ns).items


def _assert_no_key_material(peering: Peering) -> None:
    for side in (peering.provider, peering.consumer):
        fragments = _private_key_fragments(side)
        texts = [peering.provider.logs(), peering.consumer.logs()]
        for other in (peering.provider, peering.consumer):
            for event in other.core.list_event_for_all_namespaces().items:
                texts.append(
                    f"{event.reason} {event.message} {event.note if hasattr(event, 'note') else ''}"
                )
        for text in texts:
            for fragment in fragments:
                assert fragment not in text, f"private key material of {side.cluster_id} leaked"


@dataclass
class Intruder:
    """A consumer of the provider in ``peering`` that forges one part of its Tenant."""

    cluster_id: str
    key: crypto.PrivateKey
    nonce: bytes


def _intruder(peering: Peering, name: str) -> Intruder:
    consumer_id = f"{name}-{peering.suffix}"
    nonce = forge.create_nonce(peering.provider.api, consumer_id).encode()
    return Intruder(consumer_id, crypto.generate_private_key(), nonce)


def _refused(peering: Peering, tenant: dict[str, Any], reason: str) -> None:
    p = peering.provider
    name = tenant["metadata"]["name"]
    namespace = f"liqo-tenant-{name}"
    tenant["metadata"]["namespace"] = namespace
    p.kubectl("apply", "-f", "-", input=json.dumps(tenant))
    wait_for(
        f"a {reason} event",
        lambda: [e for e in p.events(namespace, name) if e.reason == reason],
    )
    [event] = [e for e in p.events(namespace, name) if e.reason == reason]
    assert event.type == "Warning"
    obj = p.tenant(namespace, name) or {}
    [condition] = [c for c in obj["status"]["conditions"] if c["type"] == "HandshakeVerified"]
    assert (condition["status"], condition["reason"]) == ("False", reason)
    assert condition["message"]
    assert not (obj.get("status") or {}).get("authParams")
    assert p.secret_data(namespace, "liqo-remote-certificate") is None
    bindings = client.RbacAuthorizationV1Api(p.api)
    selector = f"liqo.io/remote-cluster-id={name}"
    assert not bindings.list_namespaced_role_binding(namespace, label_selector=selector).items
    assert not bindings.list_cluster_role_binding(label_selector=selector).items
    csrs = client.CertificatesV1Api(p.api).list_certificate_signing_request(label_selector=selector)
    assert csrs.items == []


def test_a_forged_signature_is_refused(peering: Peering) -> None:
    intruder = _intruder(peering, "forger")
    stranger = crypto.generate_private_key()
    tenant = forge.forge_tenant(
        intruder.cluster_id, intruder.key, crypto.sign(stranger, intruder.nonce)
    )
    _refused(peering, tenant, "SignatureVerificationFailed")


def test_a_csr_with_another_common_name_is_refused(peering: Peering) -> None:
    intruder = _intruder(peering, "wrongcn")
    tenant = forge.forge_tenant(
        intruder.cluster_id, intruder.key, crypto.sign(intruder.key, intruder.nonce)
    )
    csr = crypto.make_csr(intruder.key, peering.provider.cluster_id, "liqo.io")
    tenant["spec"]["csr"] = base64.b64encode(csr).decode()
    _refused(peering, tenant, "CSRVerificationFailed")


def test_a_csr_for_another_key_is_refused(peering: Peering) -> None:
    # Right signature and subject, but the CSR asks a certificate for somebody else's key.
    intruder = _intruder(peering, "wrongkey")
    tenant = forge.forge_tenant(
        intruder.cluster_id, intruder.key, crypto.sign(intruder.key, intruder.nonce)
    )
    csr = crypto.make_csr(crypto.generate_private_key(), intruder.cluster_id, "liqo.io")
    tenant["spec"]["csr"] = base64.b64encode(csr).decode()
    _refused(peering, tenant, "CSRVerificationFailed")


def test_a_nonce_issued_for_another_cluster_is_refused(peering: Peering) -> None:
    intruder = _intruder(peering, "replayer")
    other = _intruder(peering, "victim")
    tenant = forge.forge_tenant(
        intruder.cluster_id, intruder.key, crypto.sign(intruder.key, other.nonce)
    )
    _refused(peering, tenant, "SignatureVerificationFailed")
    _assert_no_key_material(peering)


def test_tolerate_no_handshake_binds_without_issuing_credentials(peering: Peering) -> None:
    p = peering.provider
    consumer = f"trusted-{peering.suffix}"
    namespace = f"liqo-tenant-{consumer}"
    p.kubectl("create", "namespace", namespace)
    tenant = {
        "apiVersion": "authentication.liqo.io/v1beta1",
        "kind": "Tenant",
        "metadata": {"name": consumer, "namespace": namespace},
        "spec": {"clusterID": consumer, "authzPolicy": "TolerateNoHandshake"},
    }
    p.kubectl("apply", "-f", "-", input=json.dumps(tenant))
    done = wait_for(
        "the Tenant's namespace in its status",
        lambda: (
            (t := p.tenant(namespace, consumer))
            and (t.get("status") or {}).get("tenantNamespace")
            and t
        ),
    )
    assert "authParams" not in done["status"]
    bindings = client.RbacAuthorizationV1Api(p.api)
    selector = f"liqo.io/remote-cluster-id={consumer}"
    [cluster_binding] = wait_for(
        "the ClusterRoleBinding",
        lambda: bindings.list_cluster_role_binding(label_selector=selector).items,
    )
    assert [(s.kind, s.name) for s in cluster_binding.subjects or []] == [("Group", consumer)]
    assert p.secret_data(done["status"]["tenantNamespace"], "liqo-remote-certificate") is None
    csrs = client.CertificatesV1Api(p.api).list_certificate_signing_request(label_selector=selector)
    assert csrs.items == []


def _tenant_body(name: str, namespace: str, cluster_id: str, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = {key.replace("_", "/", 1): value for key, value in labels.items()}
    return {
        "apiVersion": "authentication.liqo.io/v1beta1", "kind": "Tenant", "metadata": meta,
        "spec": {"clusterID": cluster_id, "authzPolicy": "TolerateNoHandshake"},
    }  # fmt: skip


def _tenant_refused(side: Side, body: dict[str, Any]) -> tuple[int, str]:
    custom = client.CustomObjectsApi(side.api)
    namespace = body["metadata"]["namespace"]
    with pytest.raises(client.ApiException) as refused:
        custom.create_namespaced_custom_object(
            "authentication.liqo.io", "v1beta1", namespace, "tenants", body
        )
    return int(refused.value.status), str(json.loads(refused.value.body)["message"])


def test_tenant_admission_rules(peering: Peering) -> None:
    p = peering.provider
    first, second = f"first-{peering.suffix}", f"second-{peering.suffix}"
    namespace = f"liqo-tenant-{first}"
    labels = {"liqo.io/tenant-namespace": "true", "liqo.io/remote-cluster-id": first}
    p.core.create_namespace({"metadata": {"name": namespace, "labels": labels}})
    custom = client.CustomObjectsApi(p.api)
    created: Any = custom.create_namespaced_custom_object(
        "authentication.liqo.io", "v1beta1", namespace, "tenants",
        _tenant_body(first, namespace, first),
    )  # fmt: skip
    # The mutating webhook labels the Tenant with its cluster id.
    assert created["metadata"]["labels"]["liqo.io/remote-cluster-id"] == first

    # One Tenant per tenant namespace.
    status, message = _tenant_refused(p, _tenant_body(second, namespace, first))
    assert status == 422
    assert f"{namespace} already holds Tenant {first} (one Tenant per tenant namespace)" in message
    # A Tenant for another cluster in this cluster's tenant namespace.
    status, message = _tenant_refused(p, _tenant_body(second, namespace, second))
    assert status == 422
    assert f"{namespace} is the tenant namespace of cluster '{first}'" in message
    # A label that is not the cluster id.
    other_ns = f"liqo-tenant-{second}"
    p.core.create_namespace({"metadata": {"name": other_ns}})
    body = _tenant_body(second, other_ns, second, **{"liqo.io_remote-cluster-id": first})
    status, message = _tenant_refused(p, body)
    assert status == 422
    assert "metadata.labels[liqo.io/remote-cluster-id]: must equal spec.clusterID" in message
    # The same name as a Tenant of another namespace.
    status, message = _tenant_refused(p, _tenant_body(first, other_ns, first))
    assert status == 422
    assert f"a Tenant {first} already exists in {namespace}" in message

    # The cluster id label never changes.
    with pytest.raises(client.ApiException) as refused:
        custom.patch_namespaced_custom_object(
            "authentication.liqo.io", "v1beta1", namespace, "tenants", first,
            {"metadata": {"labels": {"liqo.io/remote-cluster-id": second}}},
        )  # fmt: skip
    assert refused.value.status == 422
    assert "is immutable" in json.loads(refused.value.body)["message"]

    for name, ns in ((first, namespace), (second, other_ns)):
        p.kubectl("delete", "tenant", name, "-n", ns, "--ignore-not-found", "--wait=false")
    wait_for("the Tenant gone", lambda: p.tenant(namespace, first) is None, timeout=60)
    for ns in (namespace, other_ns):
        p.kubectl("delete", "namespace", ns, "--wait=false")
