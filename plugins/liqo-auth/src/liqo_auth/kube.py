"""The module's asynchronous API access to the cluster its kopf operator watches.

Clients are built from ``memo.kube_target``, the target the operator itself logs in to,
re-read for every client so rotated credentials are picked up.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from liqo_core.kube import Kube, KubeTarget


@asynccontextmanager
async def operator_api(target: KubeTarget) -> AsyncIterator[Kube]:
    """A :class:`~liqo_core.kube.Kube` client for ``target`` (``memo.kube_target``: the
    operator's cluster and credentials), closed on exit."""
    kube = await Kube.from_target(target)
    try:
        yield kube
    finally:
        await kube.close()


def secrets_path(namespace: str, name: str | None = None) -> str:
    """REST path of the Secrets of ``namespace`` (or of one of them)."""
    base = f"/api/v1/namespaces/{quote(namespace)}/secrets"
    return f"{base}/{quote(name)}" if name else base


def dumps(obj: Any) -> str:
    """Compact JSON (for messages)."""
    return json.dumps(obj, separators=(",", ":"))
