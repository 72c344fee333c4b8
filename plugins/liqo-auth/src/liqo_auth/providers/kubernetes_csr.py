"""The default identity provider: consumers' CSRs signed through the Kubernetes CSR API.

A ``CertificateSigningRequest`` (``generateName: liqo-identity-``, signer
``kubernetes.io/kube-apiserver-client``, client-auth usages, label
``liqo.io/remote-cluster-id``) is created, approved by the controller-manager itself and
deleted once the certificate is read. A pending request for the same CSR is reused, so a
controller killed half-way does not leave a second one.
"""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import quote

from liqo_auth import crypto
from liqo_auth.names import CLIENT_SIGNER, CSR_GENERATE_NAME, CSR_USAGES
from liqo_auth.reconcile import Requeue
from liqo_core.api.consts import REMOTE_CLUSTER_ID_LABEL
from liqo_core.identity import CredentialRequest, IdentityProvider, IssuedCredential
from liqo_core.kube import JSONObject, Kube

CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
#: How long to wait for the signer to issue a certificate.
CERTIFICATE_TIMEOUT = 30.0


async def _approve(api: Kube, csr: JSONObject) -> None:
    conditions = list((csr.get("status") or {}).get("conditions") or [])
    if any(c.get("type") in ("Approved", "Denied") for c in conditions):
        return
    conditions.append(
        {
            "type": "Approved",
            "status": "True",
            "reason": "LiqoTenantVerified",
            "message": "The consumer passed the Liqo handshake",
        }
    )
    body = dict(csr)
    body["status"] = {**(csr.get("status") or {}), "conditions": conditions}
    name = csr["metadata"]["name"]
    await api.request("PUT", f"{CSR_PATH}/{quote(name)}/approval", body)


async def _wait_certificate(api: Kube, name: str) -> bytes:
    deadline = time.monotonic() + CERTIFICATE_TIMEOUT
    delay = 0.1
    while True:
        csr = await api.get(f"{CSR_PATH}/{quote(name)}")
        if csr is None:
            raise Requeue(f"CertificateSigningRequest {name} disappeared")
        status = csr.get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("type") in ("Denied", "Failed") and condition.get("status") == "True":
                raise RuntimeError(
                    f"CertificateSigningRequest {name} was {condition['type'].lower()}: "
                    f"{condition.get('message') or condition.get('reason') or ''}"
                )
        if status.get("certificate"):
            return base64.b64decode(status["certificate"])
        if time.monotonic() > deadline:
            raise Requeue(f"no certificate issued for CertificateSigningRequest {name} yet")
        await asyncio.sleep(delay)  # polling the signer's answer
        delay = min(delay * 2, 1.0)


async def sign_csr(
    api: Kube, consumer: str, csr_pem: bytes, expiration_seconds: int | None = None
) -> bytes:
    """Sign ``csr_pem`` through the CSR API (reusing a pending request for it).

    :param expiration_seconds: Lifetime asked for (``spec.expirationSeconds``); ``None``
        leaves it to the signer.
    """
    request = base64.b64encode(csr_pem).decode()
    selector = f"{REMOTE_CLUSTER_ID_LABEL}={consumer}"
    existing = [
        csr
        for csr in await api.list_items(CSR_PATH, selector)
        if (csr.get("spec") or {}).get("request") == request
        and not (csr["metadata"].get("deletionTimestamp"))
    ]
    if existing:
        csr = existing[0]
    else:
        body: JSONObject = {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {
                "generateName": CSR_GENERATE_NAME,
                "labels": {REMOTE_CLUSTER_ID_LABEL: consumer},
            },
            "spec": {"request": request, "signerName": CLIENT_SIGNER, "usages": list(CSR_USAGES)},
        }
        if expiration_seconds is not None:
            body["spec"]["expirationSeconds"] = expiration_seconds
        created = await api.create(CSR_PATH, body)
        if created is None:
            raise Requeue("CertificateSigningRequest name clash")
        csr = created
    name = csr["metadata"]["name"]
    await _approve(api, csr)
    certificate = await _wait_certificate(api, name)
    await api.delete(f"{CSR_PATH}/{quote(name)}")
    return certificate


class KubernetesCSRProvider(IdentityProvider):
    """Client certificates for the consumer's own key, signed by the cluster's CA."""

    name: ClassVar[str] = "kubernetes-csr"

    def __init__(self, lifetime: float | None = None) -> None:
        """:param lifetime: Seconds of validity to ask for (``credentialLifetime``)."""
        self.lifetime = lifetime

    async def issue(self, api: Kube, request: CredentialRequest) -> IssuedCredential:
        """Sign the request's CSR; the certificate is for the consumer's own key."""
        if not request.csr:
            raise ValueError(f"{request.identity_type} {request.name}: no CSR to sign")
        expiration = None if self.lifetime is None else int(self.lifetime)
        certificate = await sign_csr(api, request.consumer_cluster_id, request.csr, expiration)
        validity = crypto.certificate_validity(certificate)
        if validity is None:
            raise RuntimeError("the signer returned something that is not a certificate")
        return IssuedCredential(
            not_before=datetime.fromtimestamp(validity.not_before, UTC),
            not_after=datetime.fromtimestamp(validity.not_after, UTC),
            signed_crt=certificate,
        )

    def subjects(self, request: CredentialRequest) -> list[JSONObject]:
        """The certificate's CN as a User and its O values as Groups."""
        rbac = "rbac.authorization.k8s.io"
        return [
            {"kind": "User", "name": request.user, "apiGroup": rbac},
            *({"kind": "Group", "name": group, "apiGroup": rbac} for group in request.groups),
        ]
