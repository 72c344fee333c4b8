"""Kubeconfig files with embedded CA and client certificate or bearer token credentials."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

from .pki import write_private


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(
    cluster_name: str, server_url: str, ca_pem: bytes, user: str, credentials: dict[str, Any]
) -> dict[str, Any]:
    """A one-context kubeconfig document (``credentials`` is the ``user`` stanza)."""
    context = f"{user}@{cluster_name}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": server_url, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": context, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": context,
        "preferences": {},
    }


def write_cert_kubeconfig(
    path: Path,
    *,
    cluster_name: str,
    server_url: str,
    ca_pem: bytes,
    user: str,
    cert_pem: bytes,
    key_pem: bytes,
) -> None:
    """Write a kubeconfig authenticating with a client certificate (file mode 0600)."""
    doc = kubeconfig(
        cluster_name,
        server_url,
        ca_pem,
        user,
        {"client-certificate-data": _b64(cert_pem), "client-key-data": _b64(key_pem)},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, yaml.safe_dump(doc, sort_keys=False).encode())


def write_token_kubeconfig(
    path: Path, *, cluster_name: str, server_url: str, ca_pem: bytes, user: str, token: str
) -> None:
    """Write a kubeconfig authenticating with a bearer token (file mode 0600)."""
    doc = kubeconfig(cluster_name, server_url, ca_pem, user, {"token": token})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, yaml.safe_dump(doc, sort_keys=False).encode())
