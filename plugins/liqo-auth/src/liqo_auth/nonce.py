"""Handshake nonces: ``secret_noncecreator`` (provider) and ``secret_noncesigner`` (consumer).

The provider's ``liqo-nonce`` Secret (label ``liqo.io/nonce=true``, in the tenant namespace
of a consumer) gets ``nonce``: the base64 text of 64 random bytes, once. The consumer's
``liqo-signed-nonce`` Secret (label ``liqo.io/signed-nonce=true``) holding that text in
``nonce`` gets ``signedNonce``: its signature with this cluster's private key.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import kopf

from liqo_auth import crypto
from liqo_auth.keys import read_private_key
from liqo_auth.kube import operator_api, secrets_path
from liqo_auth.names import NONCE_KEY, SIGNED_NONCE_KEY
from liqo_auth.reconcile import with_retries
from liqo_core import LiqoSettings
from liqo_core.api.consts import (
    NONCE_SECRET_LABEL,
    SIGNED_NONCE_SECRET_LABEL,
    TENANT_NAMESPACE_LABEL,
)
from liqo_core.kube import Kube, api_status

logger = logging.getLogger(__name__)


def new_nonce_text() -> str:
    """A fresh nonce as stored in the Secret: base64 of :data:`crypto.NONCE_BYTES` bytes."""
    return base64.b64encode(crypto.new_nonce()).decode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _patch_data(api: Kube, secret: dict[str, Any], data: dict[str, str]) -> bool:
    """Add ``data`` if the Secret did not change since read; ``False`` on a conflict."""
    meta = secret["metadata"]
    path = secrets_path(meta["namespace"], meta["name"])
    patch = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "data": data}
    try:
        await api.merge_patch(path, patch)
    except Exception as exc:
        if api_status(exc) == 409:
            return False
        raise
    return True


async def ensure_nonce(api: Kube, namespace: str, name: str) -> bool:
    """Give the nonce Secret its nonce if it has none; return whether one was written."""
    while True:
        secret = await api.get(secrets_path(namespace, name))
        if secret is None or (secret.get("data") or {}).get(NONCE_KEY):
            return False
        if secret["metadata"].get("deletionTimestamp"):
            return False
        ns = await api.get(f"/api/v1/namespaces/{namespace}")
        labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
        if labels.get(TENANT_NAMESPACE_LABEL) != "true":
            logger.warning(
                "nonce Secret %s/%s is not in a tenant namespace: ignored", namespace, name
            )
            return False
        nonce = new_nonce_text().encode()
        if await _patch_data(api, secret, {NONCE_KEY: _b64(nonce)}):
            return True


async def ensure_signed_nonce(api: Kube, namespace: str, name: str, liqo_namespace: str) -> bool:
    """Sign the Secret's nonce if it is not signed yet; return whether it was signed."""
    while True:
        secret = await api.get(secrets_path(namespace, name))
        data = (secret or {}).get("data") or {}
        if secret is None or not data.get(NONCE_KEY) or data.get(SIGNED_NONCE_KEY):
            return False
        key = await read_private_key(api, liqo_namespace)
        signature = crypto.sign(key, base64.b64decode(data[NONCE_KEY]))
        if await _patch_data(api, secret, {SIGNED_NONCE_KEY: _b64(signature)}):
            return True


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings) -> None:
    """Register both nonce controllers."""

    @kopf.on.event(
        "v1", "secrets", labels={NONCE_SECRET_LABEL: "true"}, registry=registry,
        id="secret_noncecreator",
    )  # fmt: skip
    async def noncecreator(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
        if type == "DELETED":
            return
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""

        async def work() -> None:
            async with operator_api(memo.kube_target) as api:
                if await ensure_nonce(api, namespace, name):
                    logger.info("generated the nonce of Secret %s/%s", namespace, name)
                    kopf.event(
                        body, type="Normal", reason="NonceGenerated", message="Nonce generated"
                    )

        await with_retries(logger, f"nonce of Secret {namespace}/{name}", work)

    @kopf.on.event(
        "v1", "secrets", labels={SIGNED_NONCE_SECRET_LABEL: "true"}, registry=registry,
        id="secret_noncesigner",
    )  # fmt: skip
    async def noncesigner(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
        if type == "DELETED":
            return
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""

        async def work() -> None:
            async with operator_api(memo.kube_target) as api:
                if await ensure_signed_nonce(api, namespace, name, settings.namespace):
                    logger.info("signed the nonce of Secret %s/%s", namespace, name)
                    kopf.event(body, type="Normal", reason="NonceSigned", message="Nonce signed")

        await with_retries(logger, f"signature of Secret {namespace}/{name}", work)
