"""The module's asynchronous API access to the cluster its kopf operator watches.

Clients for ``memo.kube_target`` (the target the operator itself logs in to) come from the
operator loop's shared cache (:func:`liqo_core.kube.kube_client`): one client per target,
renewed after a time-to-live so rotated credentials are picked up, dropped on a 401, and
closed by the runtime when the operator stops.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import quote

from liqo_core.kube import Kube, KubeTarget, kube_client


def operator_api(target: KubeTarget) -> AbstractAsyncContextManager[Kube]:
    """The shared :class:`~liqo_core.kube.Kube` client for ``target``
    (``memo.kube_target``: the operator's cluster and credentials), for an ``async with``.

    Never close it: the cache does (see :func:`liqo_core.kube.kube_client`).
    """
    return kube_client(target)


def secrets_path(namespace: str, name: str | None = None) -> str:
    """REST path of the Secrets of ``namespace`` (or of one of them)."""
    base = f"/api/v1/namespaces/{quote(namespace)}/secrets"
    return f"{base}/{quote(name)}" if name else base


def dumps(obj: Any) -> str:
    """Compact JSON (for messages)."""
    return json.dumps(obj, separators=(",", ":"))
