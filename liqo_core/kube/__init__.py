"""Asynchronous Kubernetes access shared by Liqo's controllers, tools and the sandbox.

Names load on first use: importing this package must stay cheap (liqoctl imports it, and
kopf and kubernetes_asyncio cost ~0.5 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from liqo_core._lazy import lazy_getattr

if TYPE_CHECKING:
    from liqo_core.kube.backoff import Backoff, ItemBackoff
    from liqo_core.kube.client import (
        KubeConfigError,
        KubeTarget,
        connection_info,
        load_configuration,
    )
    from liqo_core.kube.clientcache import ClientCache, close_clients, kube_client
    from liqo_core.kube.controller import Controller, KeyFunc, Reconcile
    from liqo_core.kube.informer import EventHandler, Handler, Informer, Informers
    from liqo_core.kube.objectcache import (
        IndexFunc,
        ObjectCache,
        by_label,
        by_namespace,
        object_key,
        split_key,
    )
    from liqo_core.kube.quantity import Quantity, QuantityError, parse_quantity
    from liqo_core.kube.resources import ResourceClient
    from liqo_core.kube.rest import (
        JSONObject,
        Kube,
        KubeError,
        WatchExpiredError,
        api_status,
        describe_error,
    )
    from liqo_core.kube.workqueue import QueueShutDown, WorkQueue

_EXPORTS = {
    "Backoff": "liqo_core.kube.backoff",
    "ItemBackoff": "liqo_core.kube.backoff",
    "Controller": "liqo_core.kube.controller",
    "KeyFunc": "liqo_core.kube.controller",
    "Reconcile": "liqo_core.kube.controller",
    "EventHandler": "liqo_core.kube.informer",
    "Handler": "liqo_core.kube.informer",
    "Informer": "liqo_core.kube.informer",
    "Informers": "liqo_core.kube.informer",
    "IndexFunc": "liqo_core.kube.objectcache",
    "ObjectCache": "liqo_core.kube.objectcache",
    "by_label": "liqo_core.kube.objectcache",
    "by_namespace": "liqo_core.kube.objectcache",
    "object_key": "liqo_core.kube.objectcache",
    "split_key": "liqo_core.kube.objectcache",
    "Quantity": "liqo_core.kube.quantity",
    "QuantityError": "liqo_core.kube.quantity",
    "parse_quantity": "liqo_core.kube.quantity",
    "ResourceClient": "liqo_core.kube.resources",
    "QueueShutDown": "liqo_core.kube.workqueue",
    "WorkQueue": "liqo_core.kube.workqueue",
    "ClientCache": "liqo_core.kube.clientcache",
    "close_clients": "liqo_core.kube.clientcache",
    "kube_client": "liqo_core.kube.clientcache",
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
    "Backoff",
    "ClientCache",
    "Controller",
    "EventHandler",
    "Handler",
    "IndexFunc",
    "Informer",
    "Informers",
    "ItemBackoff",
    "JSONObject",
    "KeyFunc",
    "Kube",
    "KubeConfigError",
    "KubeError",
    "KubeTarget",
    "ObjectCache",
    "Quantity",
    "QuantityError",
    "QueueShutDown",
    "Reconcile",
    "ResourceClient",
    "WatchExpiredError",
    "WorkQueue",
    "api_status",
    "by_label",
    "by_namespace",
    "close_clients",
    "connection_info",
    "describe_error",
    "kube_client",
    "load_configuration",
    "object_key",
    "parse_quantity",
    "split_key",
]
