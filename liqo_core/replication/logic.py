"""Pure decisions of the CRD replicator: which objects replicate, what the remote copy is.

Nothing here talks to a cluster, so every rule is unit-tested on plain dicts.

What the replicator owns on the remote copy is its spec and the labels it writes
(:func:`remote_labels`); everything else there belongs to the peer and survives every
update: its status, finalizers, other labels and all annotations. That includes the
provider's cordon (``liqo.io/cordon``, ``liqo.io/cordon-tenant``): the local object's
annotations never reach the copy, so a consumer can neither add nor lift a cordon
through replication.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from liqo_core.api import consts
from liqo_core.replication import ReplicatedResource

JSONObject = dict[str, Any]

#: Keys of the kubeconfig Secret the replicator reads.
KUBECONFIG_KEY = "kubeconfig"
IDENTITY_TYPE_CONTROL_PLANE = "ControlPlane"


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
    local: JSONObject, kind: ReplicatedResource, local_cluster_id: str, remote_namespace: str
) -> JSONObject:
    """The remote copy of ``local``: same name and spec, rewritten labels, no status and
    no annotations (those are the peer's)."""
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

    Built from ``remote`` (as last read, with its resourceVersion, so a concurrent change
    by the peer makes the write fail with 409 and be redone from a fresh read): only the
    spec and our labels change. Annotations, finalizers, other labels and status of the
    copy belong to the peer and are written back as they are.
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
