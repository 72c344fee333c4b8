"""Asynchronous Kubernetes access shared by Liqo's controllers, tools and the sandbox.

Names load on first use: importing this package must stay cheap (liqoctl imports it, and
kopf and kubernetes_asyncio cost ~0.5 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from liqo_core._lazy import lazy_getattr

if TYPE_CHECKING:
    from liqo_core.kube.client import (
        KubeConfigError,
        KubeTarget,
        connection_info,
        load_configuration,
    )
    from liqo_core.kube.rest import (
        JSONObject,
        Kube,
        KubeError,
        WatchExpiredError,
        api_status,
        describe_error,
    )

_EXPORTS = {
    "KubeConfigError": "liqo_core.kube.client",
    "KubeTarget": "liqo_core.kube.client",
    "connection_info": "liqo_core.kube.client",
    "load_configuration": "liqo_core.kube.client",
    "JSONObject": "liqo_core.kube.rest",
    "Kube": "liqo_core.kube.rest",
    "KubeError": "liqo_core.kube.rest",
    "WatchExpiredError": "liqo_core.kube.rest",
    "api_status": "liqo_core.kube.rest",
    "describe_error": "liqo_core.kube.rest",
}


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


__all__ = [
    "JSONObject",
    "Kube",
    "KubeConfigError",
    "KubeError",
    "KubeTarget",
    "WatchExpiredError",
    "api_status",
    "connection_info",
    "describe_error",
    "load_configuration",
]
