"""Pure decisions of the CRD replicator: which objects replicate, what the remote copy is.

Nothing here talks to a cluster, so every rule is unit-tested on plain dicts.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

from liqo_core.api import consts
from liqo_core.api.authentication_v1beta1 import Renew, ResourceSlice
from liqo_core.api.offloading_namespace import NamespaceMap

JSONObject = dict[str, Any]

#: Keys of the kubeconfig Secret the replicator reads.
KUBECONFIG_KEY = "kubeconfig"
IDENTITY_TYPE_CONTROL_PLANE = "ControlPlane"


@dataclass(frozen=True)
class Kind:
    """One replicated kind: where it is served."""

    group: str
    version: str
    kind: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    def path(self, namespace: str | None, name: str | None = None, sub: str = "") -> str:
        """The REST path of the collection (``namespace=None``: all namespaces) or an object."""
        path = f"/apis/{self.group}/{self.version}"
        if namespace is not None:
            path += f"/namespaces/{namespace}"
        path += f"/{self.plural}"
        if name is not None:
            path += f"/{name}"
        return path + (f"/{sub}" if sub else "")


def _kind(model: Any) -> Kind:
    crd = model.crd
    return Kind(crd.group, crd.version, crd.kind, crd.plural)


#: The kinds replicated over a ControlPlane identity, all with ownership "Shared":
#: spec flows local -> remote, status flows remote -> local.
REPLICATED_KINDS: tuple[Kind, ...] = (_kind(NamespaceMap), _kind(ResourceSlice), _kind(Renew))


def local_selector(peer: str) -> str:
    """Label selector of the local objects to replicate towards ``peer``."""
    return (
        f"{consts.REPLICATION_REQUESTED_LABEL}=true,{consts.REPLICATION_DESTINATION_LABEL}={peer}"
    )


def remote_selector(local_cluster_id: str) -> str:
    """Label selector of the copies this cluster made on the peer."""
    replicated, origin = consts.REPLICATION_STATUS_LABEL, consts.REPLICATION_ORIGIN_LABEL
    return f"{replicated}=true,{origin}={local_cluster_id}"


def _labels(obj: JSONObject) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def selected(obj: JSONObject, peer: str) -> bool:
    """Whether ``obj`` is a local object to replicate towards ``peer``."""
    labels = _labels(obj)
    return (
        labels.get(consts.REPLICATION_REQUESTED_LABEL) == "true"
        and labels.get(consts.REPLICATION_DESTINATION_LABEL) == peer
    )


def is_our_copy(obj: JSONObject, local_cluster_id: str) -> bool:
    """Whether a remote object is a copy made by ``local_cluster_id``."""
    labels = _labels(obj)
    return (
        labels.get(consts.REPLICATION_STATUS_LABEL) == "true"
        and labels.get(consts.REPLICATION_ORIGIN_LABEL) == local_cluster_id
    )


def remote_labels(labels: dict[str, str], local_cluster_id: str) -> dict[str, str]:
    """The labels of the remote copy: marked replicated, from us, without a destination."""
    rewritten = dict(labels)
    rewritten.pop(consts.REPLICATION_DESTINATION_LABEL, None)
    rewritten[consts.REPLICATION_REQUESTED_LABEL] = "false"
    rewritten[consts.REPLICATION_STATUS_LABEL] = "true"
    rewritten[consts.REPLICATION_ORIGIN_LABEL] = local_cluster_id
    rewritten[consts.REMOTE_CLUSTER_ID_LABEL] = local_cluster_id
    return rewritten


def desired_remote(
    local: JSONObject, kind: Kind, local_cluster_id: str, remote_namespace: str
) -> JSONObject:
    """The remote copy of ``local``: same name and spec, rewritten labels, no status."""
    metadata = local.get("metadata") or {}
    body: JSONObject = {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": {
            "name": metadata["name"],
            "namespace": remote_namespace,
            "labels": remote_labels(_labels(local), local_cluster_id),
        },
    }
    if "spec" in local:
        body["spec"] = copy.deepcopy(local["spec"])
    return body


def remote_update(remote: JSONObject, desired: JSONObject) -> JSONObject | None:
    """The remote object to write so that it matches ``desired``, or ``None`` if it does.

    Only labels and spec are ours; annotations, finalizers and status of the remote copy
    belong to the peer and are kept.
    """
    metadata = remote.get("metadata") or {}
    labels = dict(metadata.get("labels") or {})
    wanted_labels = desired["metadata"]["labels"]
    labels_ok = all(labels.get(key) == value for key, value in wanted_labels.items())
    spec_ok = remote.get("spec") == desired.get("spec")
    if labels_ok and spec_ok:
        return None
    updated = copy.deepcopy(remote)
    updated.setdefault("metadata", {})["labels"] = {**labels, **wanted_labels}
    if "spec" in desired:
        updated["spec"] = copy.deepcopy(desired["spec"])
    else:
        updated.pop("spec", None)
    return updated


def status_update(local: JSONObject, remote: JSONObject) -> JSONObject | None:
    """The local object with the remote copy's status, or ``None`` if they already agree."""
    status = remote.get("status")
    if not status or local.get("status") == status:
        return None
    updated = copy.deepcopy(local)
    updated["status"] = copy.deepcopy(status)
    return updated


def has_finalizer(obj: JSONObject, finalizer: str) -> bool:
    return finalizer in ((obj.get("metadata") or {}).get("finalizers") or [])


def with_finalizer(obj: JSONObject, finalizer: str, present: bool) -> JSONObject | None:
    """``obj`` with ``finalizer`` added or removed, or ``None`` if nothing changes."""
    finalizers = list((obj.get("metadata") or {}).get("finalizers") or [])
    if (finalizer in finalizers) == present:
        return None
    updated = copy.deepcopy(obj)
    if present:
        finalizers.append(finalizer)
    else:
        finalizers = [item for item in finalizers if item != finalizer]
    updated.setdefault("metadata", {})["finalizers"] = finalizers
    return updated


def deleting(obj: JSONObject) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def kubeconfig_hash(kubeconfig: bytes) -> str:
    """A digest identifying the kubeconfig content (never the content itself)."""
    return hashlib.sha256(kubeconfig).hexdigest()[:16]
