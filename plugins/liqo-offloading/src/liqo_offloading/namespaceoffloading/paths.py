"""API paths and selectors of what the namespace-offloading machinery reads and writes."""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from liqo_core.api.consts import REPLICATION_REQUESTED_LABEL, TYPE_LABEL, TYPE_VIRTUAL_NODE

_OFFLOADING = "/apis/offloading.liqo.io/v1beta1"
NAMESPACE_OFFLOADINGS: Final = f"{_OFFLOADING}/namespaceoffloadings"
NAMESPACE_MAPS: Final = f"{_OFFLOADING}/namespacemaps"
VIRTUAL_NODES: Final = f"{_OFFLOADING}/virtualnodes"
NODES: Final = "/api/v1/nodes"
NAMESPACES: Final = "/api/v1/namespaces"
MUTATING_WEBHOOKS: Final = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"

#: The local NamespaceMaps (the replicated copies carry ``liqo.io/replication=false``);
#: the same selector as the VirtualNode controller's, so the informer is shared.
LOCAL_MAPS: Final = f"{REPLICATION_REQUESTED_LABEL}=true"
#: The virtual Nodes (the VirtualNode controller's selector too).
VIRTUAL_NODE_SELECTOR: Final = f"{TYPE_LABEL}={TYPE_VIRTUAL_NODE}"

FINALIZER: Final = "namespaceoffloading-controller.liqo.io/finalizer"


def namespaced(collection: str, namespace: str, name: str | None = None) -> str:
    """The path of ``collection`` (an all-namespaces path above) in ``namespace``."""
    head, _, plural = collection.rpartition("/")
    path = f"{head}/namespaces/{quote(namespace, safe='')}/{plural}"
    return f"{path}/{quote(name, safe='')}" if name is not None else path


def named(collection: str, name: str) -> str:
    """The path of cluster-scoped object ``name`` of ``collection``."""
    return f"{collection}/{quote(name, safe='')}"
