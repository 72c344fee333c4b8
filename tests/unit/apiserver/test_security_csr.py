"""CertificateSigningRequests: create strategy, approval permission, the in-process signer."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID
from test_security_memapi import MemoryAPI, binding, eventually, role, start, stop

from liqo_core.sandbox.apiserver.security import Security
from liqo_core.sandbox.apiserver.security.csr import MIN_EXPIRATION_ENV
from liqo_core.sandbox.apiserver.types import (
    AdmissionAttributes,
    AdmissionDenied,
    APIError,
    RequestAttributes,
    ResourceType,
    SubresourceCall,
    UserInfo,
)

G = "certificates.k8s.io"
CSR_TYPE = ResourceType(
    G,
    "v1",
    "certificatesigningrequests",
    "CertificateSigningRequest",
    False,
    subresources=("status", "approval"),
)
ADMIN = UserInfo("kubernetes-admin", ("system:masters", "system:authenticated"))
APPROVE_KEY = (G, "certificatesigningrequests", "approval", "PUT")


def csr_pem(cn: str, orgs: list[str]) -> tuple[bytes, ed25519.Ed25519PrivateKey]:
    key = ed25519.Ed25519PrivateKey.generate()
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    names.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    req = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(key, None)
    return req.public_bytes(serialization.Encoding.PEM), key


def csr_obj(
    name: str,
    pem: bytes,
    signer: str = "kubernetes.io/kube-apiserver-client",
    usages: tuple[str, ...] = ("digital signature", "client auth"),
    seconds: int | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "request": base64.b64encode(pem).decode(),
        "signerName": signer,
        "usages": list(usages),
    }
    if seconds is not None:
        spec["expirationSeconds"] = seconds
    return {
        "apiVersion": f"{G}/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": spec,
    }


def get_csr(api: MemoryAPI, name: str) -> dict[str, Any]:
    obj = api.get(G, "certificatesigningrequests", "", name)
    assert obj is not None
    return obj


def create_attrs(user: UserInfo, name: str) -> AdmissionAttributes:
    return AdmissionAttributes(user, "CREATE", CSR_TYPE, "", "", name, False)


def approval(user: UserInfo, name: str, condition: str = "Approved") -> SubresourceCall:
    attrs = RequestAttributes(
        user=user,
        verb="update",
        resource_request=True,
        api_group=G,
        api_version="v1",
        resource="certificatesigningrequests",
        subresource="approval",
        name=name,
    )
    body = {"status": {"conditions": [{"type": condition, "status": "True", "reason": "Test"}]}}
    return SubresourceCall(attrs, "PUT", body, {})


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[Security, MemoryAPI]]:
    api = MemoryAPI()
    security = Security(tmp_path, "c1", api)
    tasks = start(security.controllers(), api)
    yield security, api
    await stop(tasks)


async def admit_and_create(
    security: Security, api: MemoryAPI, user: UserInfo, obj: dict[str, Any]
) -> dict[str, Any]:
    attrs = create_attrs(user, obj["metadata"]["name"])
    obj = await security.admission.mutate(attrs, obj, None)
    await security.admission.validate(attrs, obj, None)
    return await api.create(G, "certificatesigningrequests", obj)


async def test_issue_a_client_certificate(cluster: tuple[Security, MemoryAPI]) -> None:
    security, api = cluster
    pem, key = csr_pem("cluster-b", ["liqo.io"])
    created = await admit_and_create(security, api, ADMIN, csr_obj("id", pem, seconds=3600))
    assert created["spec"]["username"] == "kubernetes-admin"
    assert created["spec"]["groups"] == ["system:masters", "system:authenticated"]
    handler = security.subresource_handlers()[APPROVE_KEY]
    await handler(approval(ADMIN, "id"), api)

    def issued() -> Any:
        return get_csr(api, "id")["status"].get("certificate")

    cert = x509.load_pem_x509_certificate(base64.b64decode(await eventually(issued)))
    assert cert.subject.rfc4514_string() == "CN=cluster-b,O=liqo.io"
    remaining = cert.not_valid_after_utc - datetime.now(UTC)
    assert 3590 <= remaining.total_seconds() <= 3600
    assert cert.not_valid_before_utc <= datetime.now(UTC) - timedelta(minutes=4)
    user = security.authenticate({}, cert.public_bytes(serialization.Encoding.DER))
    assert user is not None
    assert (user.name, user.groups) == ("cluster-b", ("liqo.io", "system:authenticated"))
    assert cert.public_key() == key.public_key()
    conds = get_csr(api, "id")["status"]["conditions"]
    assert [c["type"] for c in conds] == ["Approved"]


async def test_denied_and_invalid_requests_are_not_signed(
    cluster: tuple[Security, MemoryAPI],
) -> None:
    security, api = cluster
    pem, _ = csr_pem("x", [])
    await admit_and_create(security, api, ADMIN, csr_obj("denied", pem))
    await admit_and_create(
        security, api, ADMIN, csr_obj("bad", pem, usages=("digital signature", "server auth"))
    )
    handler = security.subresource_handlers()[APPROVE_KEY]
    await handler(approval(ADMIN, "denied", "Denied"), api)
    await handler(approval(ADMIN, "bad"), api)

    def failed() -> dict[str, Any] | None:
        conds = get_csr(api, "bad")["status"]["conditions"]
        return next((c for c in conds if c["type"] == "Failed"), None)

    cond = await eventually(failed)
    assert cond["reason"] == "SignerValidationFailure"
    assert cond["message"] == "invalid usage for client certificate: server auth"
    assert "certificate" not in get_csr(api, "denied")["status"]
    # Approved and Denied cannot coexist.
    with pytest.raises(APIError) as err:
        await handler(approval(ADMIN, "denied"), api)
    assert err.value.code == 422


async def test_approval_needs_approve_on_the_signer(cluster: tuple[Security, MemoryAPI]) -> None:
    security, api = cluster
    pem, _ = csr_pem("x", [])
    await admit_and_create(security, api, ADMIN, csr_obj("r1", pem))
    handler = security.subresource_handlers()[APPROVE_KEY]
    bob = UserInfo("bob", ("system:authenticated",))
    with pytest.raises(APIError) as err:
        await handler(approval(bob, "r1"), api)
    assert err.value.code == 403
    assert err.value.message == (
        'certificatesigningrequests.certificates.k8s.io "r1" is forbidden: user not permitted '
        'to approve requests with signerName "kubernetes.io/kube-apiserver-client"'
    )
    rules = [
        {
            "apiGroups": [G],
            "resources": ["signers"],
            "resourceNames": ["kubernetes.io/*"],
            "verbs": ["approve"],
        }
    ]
    await api.create(
        "rbac.authorization.k8s.io", "clusterroles", role("ClusterRole", "approver", rules)
    )
    await api.create(
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        binding(
            "ClusterRoleBinding",
            "approver",
            "ClusterRole",
            "approver",
            [{"kind": "User", "name": "bob"}],
        ),
    )
    out = await handler(approval(bob, "r1"), api)
    assert out["status"]["conditions"][0]["type"] == "Approved"


async def test_create_validation(
    cluster: tuple[Security, MemoryAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    security, api = cluster
    pem, _ = csr_pem("x", [])
    with pytest.raises(APIError) as err:
        await admit_and_create(security, api, ADMIN, csr_obj("short", pem, seconds=60))
    assert err.value.code == 422
    assert err.value.message == (
        'CertificateSigningRequest.certificates.k8s.io "short" is invalid: '
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than "
        "600 seconds (10 minutes)"
    )
    monkeypatch.setenv(MIN_EXPIRATION_ENV, "60")
    await admit_and_create(security, api, ADMIN, csr_obj("short", pem, seconds=60))
    masters, _ = csr_pem("evil", ["system:masters"])
    with pytest.raises(AdmissionDenied) as denied:
        await admit_and_create(security, api, ADMIN, csr_obj("evil", masters))
    assert denied.value.code == 403
    assert denied.value.message.endswith(
        "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"
    )
    with pytest.raises(APIError) as err:
        await admit_and_create(security, api, ADMIN, csr_obj("garbage", b"not a csr"))
    assert err.value.code == 422


async def test_short_lived_certificates_with_lowered_minimum(
    cluster: tuple[Security, MemoryAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    security, api = cluster
    monkeypatch.setenv(MIN_EXPIRATION_ENV, "60")
    pem, _ = csr_pem("rotating", ["g"])
    await admit_and_create(security, api, ADMIN, csr_obj("rot", pem, seconds=60))
    await security.subresource_handlers()[APPROVE_KEY](approval(ADMIN, "rot"), api)

    def issued() -> Any:
        return get_csr(api, "rot")["status"].get("certificate")

    cert = x509.load_pem_x509_certificate(base64.b64decode(await eventually(issued)))
    remaining = (cert.not_valid_after_utc - datetime.now(UTC)).total_seconds()
    assert 50 <= remaining <= 60


async def test_kubelet_client_signer_policy(cluster: tuple[Security, MemoryAPI]) -> None:
    security, api = cluster
    good, _ = csr_pem("system:node:n1", ["system:nodes"])
    bad, _ = csr_pem("n1", ["system:nodes"])
    signer = "kubernetes.io/kube-apiserver-client-kubelet"
    usages = ("digital signature", "key encipherment", "client auth")
    await admit_and_create(security, api, ADMIN, csr_obj("good", good, signer, usages))
    await admit_and_create(security, api, ADMIN, csr_obj("bad", bad, signer, usages))
    handler = security.subresource_handlers()[APPROVE_KEY]
    for name in ("good", "bad"):
        await handler(approval(ADMIN, name), api)
    await eventually(lambda: get_csr(api, "good")["status"].get("certificate"))
    await eventually(
        lambda: any(c["type"] == "Failed" for c in get_csr(api, "bad")["status"]["conditions"])
    )
