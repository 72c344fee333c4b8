"""Bearer tokens a provider issued to a consumer's control plane, kept for restarts.

A token from a token-based identity provider (``serviceaccount-token``) is stored where a
certificate would be: Secret ``liqo-remote-certificate`` in the tenant namespace, data key
``token`` (the ``certificate`` key is dropped). Annotations record its validity and the
SHA-256 of the consumer public key it was issued after verifying, so a restarted
controller reuses it until it is due for renewal (2/3 of its lifetime), and re-issues it
when the consumer's key changes. The token is never logged nor put in events.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from liqo_auth.kube import secrets_path
from liqo_auth.names import CERTIFICATE_KEY, REMOTE_CERTIFICATE_SECRET
from liqo_auth.renew import renewal_time
from liqo_core.api.consts import REMOTE_CLUSTER_ID_LABEL
from liqo_core.identity import IssuedCredential
from liqo_core.kube import Kube

TOKEN_KEY = "token"
NOT_BEFORE_ANNOTATION = "liqo.io/token-not-before"
NOT_AFTER_ANNOTATION = "liqo.io/token-not-after"
PUBLIC_KEY_ANNOTATION = "liqo.io/token-public-key-sha256"

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _fingerprint(public_key_pem: bytes) -> str:
    return hashlib.sha256(public_key_pem.strip()).hexdigest()


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class StoredToken:
    """A reusable stored token and when it is due for renewal (POSIX time)."""

    token: str
    renew_at: float


async def stored_token(
    api: Kube, namespace: str, public_key_pem: bytes, lifetime: float | None
) -> StoredToken | None:
    """The stored token, if issued for ``public_key_pem``, with its renewal time
    (:func:`~liqo_auth.renew.renewal_time`; ``lifetime`` is the one asked for)."""
    secret = await api.get(secrets_path(namespace, REMOTE_CERTIFICATE_SECRET)) or {}
    value = (secret.get("data") or {}).get(TOKEN_KEY)
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    not_before = _parse_time(annotations.get(NOT_BEFORE_ANNOTATION))
    not_after = _parse_time(annotations.get(NOT_AFTER_ANNOTATION))
    if not value or not_before is None or not_after is None:
        return None
    if annotations.get(PUBLIC_KEY_ANNOTATION) != _fingerprint(public_key_pem):
        return None
    renew_at = renewal_time(not_before.timestamp(), not_after.timestamp(), lifetime)
    return StoredToken(base64.b64decode(value).decode(), renew_at)


async def store_token(
    api: Kube, namespace: str, consumer: str, issued: IssuedCredential, public_key_pem: bytes
) -> str:
    """Write ``issued.token`` into ``liqo-remote-certificate``; returns the token."""
    if not issued.token:
        raise ValueError("the identity provider issued neither a certificate nor a token")
    annotations = {
        NOT_BEFORE_ANNOTATION: issued.not_before.astimezone(UTC).strftime(_TIME_FORMAT),
        NOT_AFTER_ANNOTATION: issued.not_after.astimezone(UTC).strftime(_TIME_FORMAT),
        PUBLIC_KEY_ANNOTATION: _fingerprint(public_key_pem),
    }
    data = {TOKEN_KEY: base64.b64encode(issued.token.encode()).decode()}
    meta = {"labels": {REMOTE_CLUSTER_ID_LABEL: consumer}, "annotations": annotations}
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": REMOTE_CERTIFICATE_SECRET, "namespace": namespace, **meta},
        "type": "Opaque",
        "data": data,
    }
    if await api.create(secrets_path(namespace), body) is None:
        patch = {"metadata": meta, "data": {**data, CERTIFICATE_KEY: None}}
        await api.merge_patch(secrets_path(namespace, REMOTE_CERTIFICATE_SECRET), patch)
    return issued.token
