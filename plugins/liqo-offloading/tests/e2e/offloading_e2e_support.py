"""Helpers shared by the offloading module's end-to-end tests (no tests here).

- :func:`offloading_side`: a controller-manager side with the offloading module on a
  cluster (the chart's RBAC, the CRDs established), all it left removed afterwards;
- :class:`ClusterView`: kubectl reads and writes on a side's cluster (also as functions:
  :func:`items`, :func:`patch`, ``get_json``/``apply`` from ``liqo_core.testing.kubectl``);
- the objects tests write as peers, controllers and kubelets would: :func:`namespace`,
  :func:`tenant_namespace`, :func:`namespace_map`, :func:`virtual_node`,
  :func:`virtual_kubelet_node`, :func:`pod`; and :func:`condition`, :func:`kubeconfig_as`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from e2e_support import wait_for
from liqo_sides import (
    Side,
    chart_cluster_roles,
    chart_objects,
    cleanup_cluster,
    controller_manager_rules,
    install_prerequisites,
    make_side,
    webhook_settings,
)

from liqo_core.testing.clusters import ClusterHandle
from liqo_core.testing.kubectl import apply, get_json

API = "offloading.liqo.io/v1beta1"
NO_FINALIZERS: dict[str, Any] = {"metadata": {"finalizers": None}}
#: The offloading CRDs the tests use (``<plural>.offloading.liqo.io``).
CRDS = ("virtualnodes", "vkoptionstemplates", "namespacemaps", "namespaceoffloadings",
        "shadowpods", "quotas")  # fmt: skip
#: Kinds a stopped side may leave with finalizers that no controller will remove.
FINALIZED = ("namespacemaps", "namespaceoffloadings", "virtualnodes", "resourceslices",
             "identities", "pods", "configmaps")  # fmt: skip
WEBHOOK_KINDS = ("mutatingwebhookconfiguration", "validatingwebhookconfiguration")


# --- kubectl ---------------------------------------------------------------------------------


def items(cluster: ClusterHandle, *args: str) -> list[dict[str, Any]]:
    """The ``items`` of ``kubectl get ARGS`` (none when absent)."""
    return list((get_json(cluster, *args) or {}).get("items") or [])


def patch(
    cluster: ClusterHandle,
    *args: str,
    body: dict[str, Any],
    status: bool = False,
    check: bool = True,
) -> None:
    """``kubectl patch ARGS --type=merge`` with ``body`` (of the status subresource if
    ``status``)."""
    extra = ["--subresource=status"] if status else []
    cluster.kubectl("patch", *args, *extra, "--type=merge", "-p", json.dumps(body), check=check)


def condition(obj: dict[str, Any] | None, kind: str) -> str | None:
    """The status of the condition ``kind`` of ``obj`` (None: no such condition)."""
    for found in ((obj or {}).get("status") or {}).get("conditions") or []:
        if found["type"] == kind:
            return str(found["status"])
    return None


def wait_for_crds(cluster: ClusterHandle) -> None:
    """Wait until the offloading CRDs and ForeignCluster's are Established."""
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        *(f"crd/{plural}.offloading.liqo.io" for plural in CRDS),
        "crd/foreignclusters.core.liqo.io",
    )  # fmt: skip


def drop_finalizers(cluster: ClusterHandle, suffix: str) -> None:
    """Remove the finalizers of the :data:`FINALIZED` objects in namespaces named after
    ``suffix`` (once their controllers are gone)."""
    for kind in FINALIZED:
        for obj in items(cluster, kind, "-A"):
            meta = obj["metadata"]
            if meta["namespace"].endswith(suffix) and meta.get("finalizers"):
                patch(cluster, kind, meta["name"], "-n", meta["namespace"], body=NO_FINALIZERS,
                      check=False)  # fmt: skip


def kubeconfig_as(cluster: ClusterHandle, user: dict[str, str], path: Path) -> str:
    """The cluster's kubeconfig with ``user`` as its credentials, written to ``path``."""
    config = yaml.safe_load(cluster.kubectl("config", "view", "--raw", "--minify").stdout)
    config["users"][0]["user"] = user
    text = yaml.safe_dump(config)
    path.write_text(text)
    return text


@dataclass
class ClusterView:
    """A side's cluster, read and written with kubectl."""

    side: Side
    suffix: str

    @property
    def cluster(self) -> ClusterHandle:
        return self.side.cluster

    def get(self, *args: str) -> dict[str, Any] | None:
        """``kubectl get ARGS`` (None when absent)."""
        found = get_json(self.cluster, *args)
        return None if found is None else dict(found)

    def items(self, *args: str) -> list[dict[str, Any]]:
        return items(self.cluster, *args)

    def apply(self, *objects: dict[str, Any]) -> None:
        apply(self.cluster, *objects)

    def patch(self, *args: str, body: dict[str, Any], status: bool = False) -> None:
        patch(self.cluster, *args, body=body, status=status)


# --- the controller-manager ----------------------------------------------------------------------


@dataclass
class OffloadingSide:
    """A controller-manager side with the offloading module, prepared by
    :func:`offloading_side` and started by :meth:`start`."""

    side: Side
    suffix: str
    peer: str  # the cluster id of the peer the tests play (of the other role)
    objects: list[dict[str, Any]]  # what the chart renders
    configuration: str  # the name of its webhook configurations
    webhooks: bool

    @property
    def tenant(self) -> str:
        """The tenant namespace of :attr:`peer`."""
        return f"liqo-tenant-{self.peer}"

    def chart_object(self, kind: str, name: str | None = None) -> dict[str, Any]:
        [found] = [o for o in self.objects
                   if o["kind"] == kind and name in (None, o["metadata"]["name"])]  # fmt: skip
        return found

    def template(self, **spec: Any) -> dict[str, Any]:
        """The chart's VkOptionsTemplate in the side's namespace, ``spec`` merged in."""
        template = self.chart_object("VkOptionsTemplate")
        template["metadata"]["namespace"] = self.side.namespace
        template["spec"].update(spec)
        return template

    def hooks(self, kind: str, prefix: str = "") -> list[str]:
        """The webhooks named ``prefix...`` of the side's configuration of ``kind``."""
        found = get_json(self.side.cluster, kind, self.configuration) or {}
        return [hook["name"] for hook in found.get("webhooks") or []
                if hook["name"].startswith(prefix)]  # fmt: skip

    def start(self, webhook_prefix: str = "") -> None:
        """Start it; with webhooks, wait for its webhooks named ``webhook_prefix...``."""
        self.side.start()
        for kind in WEBHOOK_KINDS if self.webhooks else ():
            wait_for(f"the {kind}", lambda k=kind: self.hooks(k, webhook_prefix), 90)


@contextmanager
def offloading_side(
    cluster: ClusterHandle,
    tmp: Path,
    role: Literal["consumer", "provider"],
    *,
    modules: Sequence[str] = ("offloading",),
    webhooks: bool = True,
    settings: dict[str, Any] | None = None,
    cluster_roles: Sequence[str] = (),
) -> Iterator[OffloadingSide]:
    """A side ``<role>-<suffix>`` (namespace ``liqo-<role>-<suffix>``) running ``modules``,
    the offloading webhooks on unless ``webhooks`` is False, ``settings`` merged in; the
    chart's consumer ClusterRoles and ``cluster_roles`` installed, the CRDs established.

    On exit it is stopped, the finalizers no controller will remove are dropped and all
    named after the suffix is deleted (Nodes too).
    """
    objects = chart_objects()
    roles = chart_cluster_roles(objects)
    roles += [o for o in objects if o["kind"] == "ClusterRole"
              and o["metadata"]["name"] in cluster_roles]  # fmt: skip
    created = install_prerequisites(cluster, roles)
    wait_for_crds(cluster)
    suffix = secrets.token_hex(3)
    cluster_id = f"{role}-{suffix}"
    peer = f"{'provider' if role == 'consumer' else 'consumer'}-{suffix}"
    configuration = f"liqo-offloading-webhook-{cluster_id}"
    webhook = webhook_settings(cluster_id) | {"configuration": configuration, "enabled": webhooks}
    config = {"modules": list(modules), "offloading": {"webhook": webhook}, **(settings or {})}
    rules = controller_manager_rules(objects)
    side = make_side(cluster, cluster_id, f"liqo-{role}-{suffix}", rules, tmp,
                     extra_settings=config)  # fmt: skip
    try:
        yield OffloadingSide(side, suffix, peer, objects, configuration, webhooks)
    finally:
        side.stop()
        drop_finalizers(cluster, suffix)
        cleanup_cluster(cluster, suffix, created)
        for ref in cluster.kubectl("get", "nodes", "-o", "name").stdout.split():
            if ref.endswith(suffix):
                cluster.kubectl("delete", ref, "--wait=false", check=False)


# --- objects ---------------------------------------------------------------------------------


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def tenant_namespace(peer: str) -> dict[str, Any]:
    """The tenant namespace of ``peer``, labelled as the authentication module labels it."""
    labels = {"liqo.io/tenant-namespace": "true", "liqo.io/remote-cluster-id": peer}
    return namespace(f"liqo-tenant-{peer}", labels)


def namespace_map(
    name: str,
    namespace: str,
    peer: str,
    mapping: dict[str, str] | None = None,
    *,
    replicated: bool = False,
) -> dict[str, Any]:
    """NamespaceMap ``name`` in ``namespace``: as a consumer keeps it for provider ``peer``,
    or (``replicated``) as the replicator writes it on a provider, ``peer`` the consumer."""
    ids = {"liqo.io/remote-cluster-id": peer}
    if replicated:
        labels = {"liqo.io/replication": "false", "liqo.io/replicated": "true",
                  "liqo.io/originID": peer, **ids}  # fmt: skip
    else:
        labels = {"liqo.io/replication": "true", "liqo.io/remoteID": peer, **ids}
    obj: dict[str, Any] = {
        "apiVersion": API, "kind": "NamespaceMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
    }  # fmt: skip
    if mapping is not None:
        obj["spec"] = {"desiredMapping": mapping}
    return obj


def virtual_node(
    name: str,
    namespace: str,
    peer: str,
    *,
    secret: str = "kubeconfig-x",
    metadata_labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """VirtualNode ``name`` of ``peer`` (2 CPUs, 4Gi unless ``spec`` says otherwise)."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if metadata_labels:
        metadata["labels"] = metadata_labels
    return {
        "apiVersion": API, "kind": "VirtualNode", "metadata": metadata,
        "spec": {"clusterID": peer, "kubeconfigSecretRef": {"name": secret},
                 "resourceQuota": {"hard": {"cpu": "2", "memory": "4Gi"}}, **spec},
    }  # fmt: skip


def virtual_kubelet_node(name: str, peer: str, **labels: str) -> dict[str, Any]:
    """The Node a virtual kubelet of ``peer`` registers, with ``labels`` too."""
    labels = {"liqo.io/type": "virtual-node", "liqo.io/remote-cluster-id": peer, **labels}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


def pod(
    namespace: str, name: str, labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    """Pod ``name`` with one container ``app`` of image ``app:1`` unless ``spec`` says."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"containers": [{"name": "app", "image": "app:1"}], **spec}}  # fmt: skip
