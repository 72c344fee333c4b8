"""Contract: CertificateSigningRequests for kube-apiserver client certificates."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from kubernetes import client
from test_authn_helpers import (
    api_client,
    cert_kubeconfig,
    csr_pem,
    service_account_token,
    status_of,
    token_kubeconfig,
    wait_for,
    whoami,
)

from liqo_core.testing.clusters import ClusterHandle, unique_name

pytestmark = pytest.mark.contract
Certs = tuple[Any, list[str]]
SIGNER = "kubernetes.io/kube-apiserver-client"


@pytest.fixture
def certificates(kube_cluster: ClusterHandle) -> Iterator[Certs]:
    """The certificates API (admin) and a list of CSR names deleted after the test."""
    api: Any = client.CertificatesV1Api(kube_cluster.shared_client())
    created: list[str] = []
    yield api, created
    for name in created:
        try:
            api.delete_certificate_signing_request(name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


def submit(api: Any, created: list[str], request_pem: bytes, seconds: int = 3600) -> str:
    name = unique_name("csr")
    api.create_certificate_signing_request(
        {
            "metadata": {"name": name},
            "spec": {
                "request": base64.b64encode(request_pem).decode(),
                "signerName": SIGNER,
                "usages": ["digital signature", "client auth"],
                "expirationSeconds": seconds,
            },
        }
    )
    created.append(name)
    return name


def approve(api: Any, name: str) -> None:
    csr = api.read_certificate_signing_request(name)
    csr.status.conditions = [
        client.V1CertificateSigningRequestCondition(
            type="Approved", status="True", reason="ContractTest", message="approved by test"
        )
    ]
    api.replace_certificate_signing_request_approval(name, csr)


def issued(api: Any, name: str) -> bytes:
    def certificate() -> Any:
        return api.read_certificate_signing_request(name).status.certificate

    value = wait_for(certificate, what=f"certificate of {name}")
    # The python client hands status.certificate back base64-encoded, as on the wire.
    return base64.b64decode(value)


def test_approved_csr_yields_a_working_client_certificate(
    kube_cluster: ClusterHandle, certificates: Certs, tmp_path: Path
) -> None:
    api, created = certificates
    user = unique_name("liqo-consumer")
    request_pem, key_pem = csr_pem(user, ["liqo.io", "team-a"])
    name = submit(api, created, request_pem, seconds=900)
    approve(api, name)
    cert_pem = issued(api, name)
    cert = x509.load_pem_x509_certificate(cert_pem)
    remaining = (cert.not_valid_after_utc - datetime.now(UTC)).total_seconds()
    assert 840 <= remaining <= 900
    conditions = api.read_certificate_signing_request(name).status.conditions
    assert [c.type for c in conditions] == ["Approved"]
    me = whoami(api_client(cert_kubeconfig(tmp_path / "c.yaml", kube_cluster, cert_pem, key_pem)))
    assert me["username"] == user
    assert set(me["groups"]) >= {"liqo.io", "team-a", "system:authenticated"}


def test_csr_records_the_requester(
    kube_cluster: ClusterHandle, certificates: Certs, namespace: str, tmp_path: Path
) -> None:
    api, created = certificates
    core: Any = client.CoreV1Api(kube_cluster.shared_client())
    rbac: Any = client.RbacAuthorizationV1Api(kube_cluster.shared_client())
    token = service_account_token(core, namespace, "requester")
    role = unique_name("csr-create")
    rbac.create_cluster_role(
        {
            "metadata": {"name": role},
            "rules": [
                {
                    "apiGroups": ["certificates.k8s.io"],
                    "resources": ["certificatesigningrequests"],
                    "verbs": ["create", "get"],
                }
            ],
        }
    )
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": role},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [{"kind": "ServiceAccount", "name": "requester", "namespace": namespace}],
        }
    )
    try:
        as_sa: Any = client.CertificatesV1Api(
            api_client(token_kubeconfig(tmp_path / "sa.yaml", kube_cluster, token))
        )
        request_pem, _ = csr_pem(unique_name("u"), [])
        name = unique_name("csr")
        body = {
            "metadata": {"name": name},
            "spec": {
                "request": base64.b64encode(request_pem).decode(),
                "signerName": SIGNER,
                "usages": ["client auth"],
                "username": "forged",
            },
        }

        def create() -> bool:
            try:
                as_sa.create_certificate_signing_request(body)
            except client.ApiException as exc:
                assert exc.status == 403
                return False
            return True

        wait_for(create, what="CSR create permission")
        created.append(name)
        spec = api.read_certificate_signing_request(name).spec
        assert spec.username == f"system:serviceaccount:{namespace}:requester"
        assert f"system:serviceaccounts:{namespace}" in spec.groups
        # Approval needs update on certificatesigningrequests/approval.
        csr = as_sa.read_certificate_signing_request(name)
        csr.status.conditions = [
            client.V1CertificateSigningRequestCondition(
                type="Approved", status="True", reason="Self"
            )
        ]
        with pytest.raises(client.ApiException) as err:
            as_sa.replace_certificate_signing_request_approval(name, csr)
        assert err.value.status == 403
        assert status_of(err.value)["message"] == (
            f'certificatesigningrequests.certificates.k8s.io "{name}" is forbidden: User '
            f'"system:serviceaccount:{namespace}:requester" cannot update resource '
            '"certificatesigningrequests/approval" in API group "certificates.k8s.io" at the '
            "cluster scope"
        )
    finally:
        rbac.delete_cluster_role_binding(role)
        rbac.delete_cluster_role(role)


def test_short_expiration_is_rejected(certificates: Certs) -> None:
    api, created = certificates
    request_pem, _ = csr_pem(unique_name("u"), [])
    with pytest.raises(client.ApiException) as err:
        submit(api, created, request_pem, seconds=599)
    assert err.value.status == 422
    assert "spec.expirationSeconds" in status_of(err.value)["message"]


def test_system_masters_cannot_be_requested(certificates: Certs) -> None:
    api, created = certificates
    request_pem, _ = csr_pem(unique_name("u"), ["system:masters"])
    with pytest.raises(client.ApiException) as err:
        submit(api, created, request_pem)
    assert err.value.status == 403
    assert status_of(err.value)["message"].endswith(
        f"use of {SIGNER} signer with system:masters group is not allowed"
    )


def test_kubectl_certificate_approve(kube_cluster: ClusterHandle, certificates: Certs) -> None:
    api, created = certificates
    request_pem, _ = csr_pem(unique_name("u"), ["g"])
    name = submit(api, created, request_pem)
    kube_cluster.kubectl("certificate", "approve", name)
    cert = x509.load_pem_x509_certificate(issued(api, name))
    assert cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == "g"
