"""Names, labels and paths of the objects the VirtualNode machinery reads and writes.

The names are upstream's (``pkg/vkMachinery``): Deployment ``vk-<vn>``, ServiceAccount
``<vn>``, ClusterRoleBinding ``liqo-node-<vn>`` to ClusterRole ``liqo-virtual-kubelet-local``.
"""

from __future__ import annotations

import hashlib
from typing import Final
from urllib.parse import quote

from liqo_core.api.consts import K8S_APP_NAME_LABEL

FINALIZER: Final = "virtualnode-controller.liqo.io/finalizer"
#: Field manager of the controller's server-side applies.
FIELD_MANAGER: Final = "virtualnode-controller"
VNCREATOR_FIELD_MANAGER: Final = "resourceslice-vncreator"

CONTAINER_NAME: Final = "virtual-kubelet"
COMMAND: Final = ("liqo", "virtual-kubelet")
LOCAL_CLUSTER_ROLE: Final = "liqo-virtual-kubelet-local"
CRB_PREFIX: Final = "liqo-node-"
DEPLOYMENT_PREFIX: Final = "vk-"
APP_NAME: Final = "virtual-kubelet"
K8S_APP_INSTANCE_LABEL: Final = "app.kubernetes.io/instance"
K8S_APP_MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
#: Selects every virtual-kubelet Deployment and pod.
VK_SELECTOR: Final = f"{K8S_APP_NAME_LABEL}={APP_NAME}"
#: Hash of the desired Deployment, so that an unchanged one is not applied again.
TEMPLATE_HASH_ANNOTATION: Final = "offloading.liqo.io/template-hash"
DEFAULT_METRICS_ADDRESS: Final = ":8082"
#: Mirror pods carry this annotation; a drain leaves them alone (as kubectl drain).
MIRROR_POD_ANNOTATION: Final = "kubernetes.io/config.mirror"

VIRTUAL_NODES: Final = "/apis/offloading.liqo.io/v1beta1/virtualnodes"
VK_OPTIONS_TEMPLATES: Final = "/apis/offloading.liqo.io/v1beta1/vkoptionstemplates"
NAMESPACE_MAPS: Final = "/apis/offloading.liqo.io/v1beta1/namespacemaps"
RESOURCE_SLICES: Final = "/apis/authentication.liqo.io/v1beta1/resourceslices"
IDENTITIES: Final = "/apis/authentication.liqo.io/v1beta1/identities"
DEPLOYMENTS: Final = "/apis/apps/v1/deployments"
CLUSTER_ROLE_BINDINGS: Final = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
NODES: Final = "/api/v1/nodes"
PODS: Final = "/api/v1/pods"
SECRETS: Final = "/api/v1/secrets"
NAMESPACES: Final = "/api/v1/namespaces"


def namespaced(collection: str, namespace: str, name: str | None = None) -> str:
    """The path of ``collection`` (an all-namespaces path above) in ``namespace``."""
    head, _, plural = collection.rpartition("/")
    path = f"{head}/namespaces/{quote(namespace, safe='')}/{plural}"
    return f"{path}/{quote(name, safe='')}" if name is not None else path


def named(collection: str, name: str) -> str:
    """The path of cluster-scoped object ``name`` of ``collection``."""
    return f"{collection}/{quote(name, safe='')}"


def deployment_name(virtual_node: str) -> str:
    """The virtual kubelet's Deployment (``vk-<virtual node>``)."""
    return f"{DEPLOYMENT_PREFIX}{virtual_node}"


def cluster_role_binding_name(virtual_node: str) -> str:
    """The ClusterRoleBinding of the virtual kubelet (``liqo-node-<virtual node>``,
    shortened to 253 characters as upstream does)."""
    return shorten(f"{CRB_PREFIX}{virtual_node}", 253)


def label_value(value: str) -> str:
    """``value`` fit for a label value (63 characters at most: a longer one is cut and
    ends with a hash of the whole, so that distinct values stay distinct)."""
    return shorten(value, 63)


def shorten(value: str, limit: int) -> str:
    """``value`` if it fits in ``limit`` characters, else a prefix and a hash of it."""
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:10]
    return f"{value[: limit - len(digest) - 1].rstrip('-.')}-{digest}"


def instance_label(virtual_node: str) -> str:
    """``app.kubernetes.io/instance`` of the virtual kubelet of ``virtual_node``."""
    return label_value(f"{APP_NAME}-{virtual_node}")
