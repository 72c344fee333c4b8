"""Helpers of the authentication / authorization contract tests (API-only, no tests here).

Every credential is obtained through the Kubernetes API (TokenRequest, CSR), so the tests
using these helpers run unchanged against real clusters.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client, config

from liqo_core.testing.clusters import ClusterHandle
from liqo_core.testing.waiting import wait_for

__all__ = ["wait_for"]  # re-exported for the contract tests


def cluster_entry(cluster: ClusterHandle) -> dict[str, Any]:
    """The ``cluster`` stanza of the admin kubeconfig's current context (CA inlined)."""
    doc = yaml.safe_load(cluster.kubeconfig.read_text())
    ctx_name = doc.get("current-context")
    ctx = next(c["context"] for c in doc["contexts"] if c["name"] == ctx_name)
    entry = dict(next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"]))
    if "certificate-authority" in entry:
        ca = Path(entry.pop("certificate-authority")).read_bytes()
        entry["certificate-authority-data"] = base64.b64encode(ca).decode()
    return entry


def write_kubeconfig(path: Path, cluster: ClusterHandle, user: dict[str, Any]) -> Path:
    """A kubeconfig for ``cluster`` with the ``user`` credentials stanza."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster_entry(cluster)}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "u@c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "u@c",
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def token_kubeconfig(path: Path, cluster: ClusterHandle, token: str) -> Path:
    """A kubeconfig authenticating with a bearer token."""
    return write_kubeconfig(path, cluster, {"token": token})


def cert_kubeconfig(path: Path, cluster: ClusterHandle, cert_pem: bytes, key_pem: bytes) -> Path:
    """A kubeconfig authenticating with a client certificate."""
    return write_kubeconfig(
        path,
        cluster,
        {
            "client-certificate-data": base64.b64encode(cert_pem).decode(),
            "client-key-data": base64.b64encode(key_pem).decode(),
        },
    )


def api_client(kubeconfig: Path) -> client.ApiClient:
    """A kubernetes ApiClient for ``kubeconfig``."""
    api: client.ApiClient = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    return api


def service_account_token(core: Any, namespace: str, name: str, seconds: int = 3600) -> str:
    """Create ServiceAccount ``name`` (if needed) and return a TokenRequest token for it."""
    try:
        core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": seconds},
    }
    out = core.create_namespaced_service_account_token(name, namespace, body)
    return str(out.status.token)


def status_of(err: client.ApiException) -> dict[str, Any]:
    """The Status object of a failed API call."""
    status: dict[str, Any] = json.loads(err.body or "{}")
    return status


def whoami(api: Any) -> dict[str, Any]:
    """The caller's user info, from a SelfSubjectReview."""
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    reviews: Any = client.AuthenticationV1Api(api)
    out = reviews.create_self_subject_review(body)
    info = out.status.user_info
    return {"username": info.username, "groups": list(info.groups or [])}


def csr_pem(common_name: str, orgs: list[str]) -> tuple[bytes, bytes]:
    """(CSR PEM, private key PEM) for subject CN=common_name, O=orgs."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    names.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    req = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(names))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return req.public_bytes(serialization.Encoding.PEM), key_pem
