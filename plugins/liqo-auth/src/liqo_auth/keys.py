"""This cluster's identity: the key pair in Secret ``authentication-keys``.

Created once, at module start-up; an existing key is never replaced (peers trust it).
"""

from __future__ import annotations

import base64
import logging

from liqo_auth import crypto
from liqo_auth.kube import secrets_path
from liqo_auth.names import KEYS_SECRET, PRIVATE_KEY, PUBLIC_KEY
from liqo_core.kube import Kube

logger = logging.getLogger(__name__)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def key_data(*, rsa_compatible: bool) -> dict[str, str]:
    """Fresh ``data`` (wire form) of the keys Secret."""
    key = crypto.generate_private_key(rsa_compatible=rsa_compatible)
    return {
        PRIVATE_KEY: _b64(crypto.private_key_pem(key)),
        PUBLIC_KEY: _b64(crypto.public_key_pem(key)),
    }


async def ensure_keys(api: Kube, namespace: str, *, rsa_compatible: bool) -> bool:
    """Make sure the keys Secret holds a key pair; return whether one was generated.

    An existing private key is kept; a missing public key is derived from it.
    """
    path = secrets_path(namespace, KEYS_SECRET)
    for _attempt in range(5):
        secret = await api.get(path)
        if secret is None:
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": KEYS_SECRET, "namespace": namespace},
                "type": "Opaque",
                "data": key_data(rsa_compatible=rsa_compatible),
            }
            if await api.create(secrets_path(namespace), body) is not None:
                logger.info("generated this cluster's key pair in %s/%s", namespace, KEYS_SECRET)
                return True
            continue  # created meanwhile by someone else: read it
        data = secret.get("data") or {}
        version = secret["metadata"]["resourceVersion"]
        if data.get(PRIVATE_KEY):
            if data.get(PUBLIC_KEY):
                return False
            key = crypto.load_private_key(base64.b64decode(data[PRIVATE_KEY]))
            patch = {PUBLIC_KEY: _b64(crypto.public_key_pem(key))}
            generated = False
        else:
            patch = key_data(rsa_compatible=rsa_compatible)
            generated = True
        try:
            await api.merge_patch(path, {"metadata": {"resourceVersion": version}, "data": patch})
        except Exception as exc:
            if getattr(exc, "status", None) == 409:
                continue
            raise
        return generated
    raise RuntimeError(f"Secret {namespace}/{KEYS_SECRET} keeps changing under us")


async def read_private_key(api: Kube, namespace: str) -> crypto.PrivateKey:
    """This cluster's private key."""
    secret = await api.get(secrets_path(namespace, KEYS_SECRET))
    data = (secret or {}).get("data") or {}
    if not data.get(PRIVATE_KEY):
        raise LookupError(f"Secret {namespace}/{KEYS_SECRET} has no {PRIVATE_KEY} yet")
    return crypto.load_private_key(base64.b64decode(data[PRIVATE_KEY]))
