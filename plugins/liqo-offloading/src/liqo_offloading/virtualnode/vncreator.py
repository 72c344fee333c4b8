"""The ``resourceslice_vncreator`` controller (consumer; authentication ∧ offloading).

A local ResourceSlice (``liqo.io/replication=true`` with ``liqo.io/remoteID``) annotated
``liqo.io/create-virtual-node`` (any value but empty or ``false``, as upstream), whose
``Authentication`` and ``Resources`` conditions are both ``Accepted``, and whose
Identity's kubeconfig Secret exists, gets a VirtualNode named like it in its namespace,
owned by it and labelled ``liqo.io/resourceslice-name`` (reference §3.4 step 8).
The VirtualNode follows the slice: capacity = granted resources, classes, node labels
(plus ``liqo.io/remote-cluster-id``), ``offloadingPatch.nodeSelector``.

The Identity is the authentication module's (``resourceslice-<slice>``, labelled with the
slice's name); its ``status.kubeconfigSecretRef`` names the Secret. This module reads
both through the API only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from liqo_core.api.consts import (
    CREATE_VIRTUAL_NODE_ANNOTATION,
    IDENTITY_TYPE_LABEL,
    REMOTE_CLUSTER_ID_LABEL,
    REPLICATION_DESTINATION_LABEL,
    REPLICATION_REQUESTED_LABEL,
    RESOURCE_SLICE_ACCEPTED,
    RESOURCE_SLICE_CONDITION_AUTHENTICATION,
    RESOURCE_SLICE_CONDITION_RESOURCES,
    RESOURCE_SLICE_NAME_LABEL,
)
from liqo_core.controllers import ControllerContext
from liqo_core.kube import Controller, Informer, Informers, Kube, object_key
from liqo_offloading.settings import offloading_settings
from liqo_offloading.virtualnode.kube import merge_diff, record_event
from liqo_offloading.virtualnode.names import (
    IDENTITIES,
    RESOURCE_SLICES,
    SECRETS,
    VIRTUAL_NODES,
    namespaced,
)

JSONObject = dict[str, Any]
log = logging.getLogger(__name__)

LOCAL_SLICES = f"{REPLICATION_REQUESTED_LABEL}=true,{REPLICATION_DESTINATION_LABEL}"
BY_SLICE = "vncreator/slice"


def wants_virtual_node(slice_: Mapping[str, Any]) -> bool:
    """Whether the slice asks for a VirtualNode (annotation set, not ``false``)."""
    annotations = (slice_.get("metadata") or {}).get("annotations") or {}
    value = str(annotations.get(CREATE_VIRTUAL_NODE_ANNOTATION) or "")
    return bool(value) and value.lower() != "false"


def accepted(slice_: Mapping[str, Any]) -> bool:
    """Whether both of the slice's conditions are ``Accepted``."""
    found = {
        c.get("type"): c.get("status") for c in (slice_.get("status") or {}).get("conditions") or []
    }
    return all(
        found.get(kind) == RESOURCE_SLICE_ACCEPTED
        for kind in (RESOURCE_SLICE_CONDITION_AUTHENTICATION, RESOURCE_SLICE_CONDITION_RESOURCES)
    )


def slice_owner(slice_: Mapping[str, Any]) -> JSONObject:
    """The controller owner reference of a VirtualNode to its slice."""
    meta = slice_["metadata"]
    return {
        "apiVersion": "authentication.liqo.io/v1beta1",
        "kind": "ResourceSlice",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def desired_virtual_node(
    slice_: Mapping[str, Any], cluster_id: str, secret: str, live: Mapping[str, Any] | None
) -> JSONObject:
    """The fields of the slice's VirtualNode this controller keeps (upstream's
    ``MutateVirtualNode`` with the slice's options): merged over ``live``."""
    meta, status = slice_["metadata"], dict(slice_.get("status") or {})
    live_spec = dict((live or {}).get("spec") or {})
    labels = {
        **(live_spec.get("labels") or {}),
        REMOTE_CLUSTER_ID_LABEL: cluster_id,
        **(status.get("nodeLabels") or {}),
    }
    spec: JSONObject = {
        "clusterID": cluster_id,
        "kubeconfigSecretRef": {"name": secret},
        "resourceQuota": {"hard": dict(status.get("resources") or {})},
        "labels": labels,
    }
    for key in ("storageClasses", "ingressClasses", "loadBalancerClasses"):
        spec[key] = status.get(key) or None
    if status.get("nodeSelector"):
        spec["offloadingPatch"] = {"nodeSelector": dict(status["nodeSelector"])}
    return {
        "apiVersion": "offloading.liqo.io/v1beta1",
        "kind": "VirtualNode",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": {
                REMOTE_CLUSTER_ID_LABEL: cluster_id,
                RESOURCE_SLICE_NAME_LABEL: meta["name"],
            },
            "ownerReferences": [slice_owner(slice_)],
        },
        "spec": spec,
    }


def update_of(live: Mapping[str, Any], desired: Mapping[str, Any]) -> JSONObject:
    """The merge patch bringing ``live`` to ``desired`` (empty: in sync). Labels are only
    added; the granted resources and the node selector are replaced whole."""
    live_meta, meta = live.get("metadata") or {}, desired["metadata"]
    patch: JSONObject = {}
    labels = {
        k: v for k, v in meta["labels"].items() if (live_meta.get("labels") or {}).get(k) != v
    }
    if labels:
        patch["metadata"] = {"labels": labels}
    ours = meta["ownerReferences"][0]
    refs = list(live_meta.get("ownerReferences") or [])
    if ours not in refs:  # a stale reference to a former slice of that name is replaced
        kept = [
            r for r in refs if (r.get("kind"), r.get("name")) != ("ResourceSlice", ours["name"])
        ]
        patch.setdefault("metadata", {})["ownerReferences"] = [*kept, ours]
    live_spec = dict(live.get("spec") or {})
    spec = {k: v for k, v in desired["spec"].items() if k not in ("labels", "offloadingPatch")}
    diff = merge_diff(live_spec, spec)
    added = {
        k: v
        for k, v in desired["spec"]["labels"].items()
        if (live_spec.get("labels") or {}).get(k) != v
    }
    if added:
        diff["labels"] = added
    selector = (desired["spec"].get("offloadingPatch") or {}).get("nodeSelector")
    if selector is not None:
        inner = merge_diff(live_spec.get("offloadingPatch") or {}, {"nodeSelector": selector})
        if inner:
            diff["offloadingPatch"] = inner
    if diff:
        patch["spec"] = diff
    return patch


class VirtualNodeCreator:
    """The reconciler, over the shared informers of its operator."""

    def __init__(self, kube: Kube, informers: Informers, workers: int) -> None:
        self.kube = kube
        self.workers = workers
        self.slices: Informer = informers.get(RESOURCE_SLICES, label_selector=LOCAL_SLICES)
        self.identities: Informer = informers.get(
            IDENTITIES, label_selector=RESOURCE_SLICE_NAME_LABEL
        )
        self.secrets: Informer = informers.get(
            SECRETS, label_selector=f"{IDENTITY_TYPE_LABEL}=ResourceSlice"
        )
        self.virtual_nodes: Informer = informers.get(VIRTUAL_NODES)
        self.identities.add_index(BY_SLICE, _slice_key_of_identity)

    def controller(self) -> Controller:
        """The toolkit controller, watching slices, Identities, Secrets, VirtualNodes."""
        controller = Controller("resourceslice_vncreator", self.reconcile, workers=self.workers)
        controller.watch(self.slices)
        controller.watch(self.identities, _slice_key_of_identity)
        controller.watch(self.secrets, self._slice_keys_of_secret)
        controller.watch(self.virtual_nodes, _slice_owner_key)
        return controller

    def _slice_keys_of_secret(self, secret: JSONObject) -> list[str]:
        meta = secret.get("metadata") or {}
        keys: list[str] = []
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") == "Identity":
                identity = self.identities.cache.get(f"{meta.get('namespace')}/{ref['name']}")
                keys += _slice_key_of_identity(identity) if identity is not None else []
        return keys

    def _kubeconfig_secret(self, slice_: JSONObject, cluster_id: str) -> str | None:
        meta = slice_["metadata"]
        for identity in self.identities.cache.by_index(BY_SLICE, object_key(slice_)):
            labels = identity["metadata"].get("labels") or {}
            if labels.get(REMOTE_CLUSTER_ID_LABEL) not in (None, cluster_id):
                continue
            name = ((identity.get("status") or {}).get("kubeconfigSecretRef") or {}).get("name")
            if name and self.secrets.cache.get(f"{meta['namespace']}/{name}") is not None:
                return str(name)
        return None

    async def reconcile(self, key: str) -> float | None:
        """Create or update the VirtualNode of slice ``key``."""
        slice_ = self.slices.cache.get(key)
        if slice_ is None or slice_["metadata"].get("deletionTimestamp"):
            return None  # its VirtualNode goes with it (owner reference)
        if not (wants_virtual_node(slice_) and accepted(slice_)):
            return None
        cluster_id = (slice_["metadata"].get("labels") or {}).get(REMOTE_CLUSTER_ID_LABEL)
        if not cluster_id:
            raise ValueError(f"ResourceSlice {key} has no {REMOTE_CLUSTER_ID_LABEL} label")
        secret = self._kubeconfig_secret(slice_, cluster_id)
        if secret is None:
            return None  # the Identity's or the Secret's event brings us back
        live = self.virtual_nodes.cache.get(key)
        desired = desired_virtual_node(slice_, cluster_id, secret, live)
        path = namespaced(VIRTUAL_NODES, slice_["metadata"]["namespace"])
        if live is None:
            desired["spec"] = {k: v for k, v in desired["spec"].items() if v is not None}
            if await self.kube.create(path, desired) is not None:
                log.info("VirtualNode %s created for ResourceSlice %s", key, key)
                message = "VirtualNode created for resourceslice"
                await record_event(
                    self.kube, slice_, "ResourceSlice", "VirtualNodeCreated", message, warning=False
                )
            return None
        if live["metadata"].get("deletionTimestamp"):
            return None
        _refuse_foreign_controller(live, key)
        patch = update_of(live, desired)
        if patch:
            name = live["metadata"]["name"]
            await self.kube.merge_patch(f"{path}/{name}", patch)
            log.info("VirtualNode %s updated from ResourceSlice %s", key, key)
        return None


def _refuse_foreign_controller(live: Mapping[str, Any], key: str) -> None:
    for ref in (live.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") != "ResourceSlice":
            raise ValueError(
                f"VirtualNode {key} is controlled by {ref.get('kind')} {ref.get('name')}"
            )


def _slice_key_of_identity(identity: JSONObject) -> list[str]:
    meta = identity.get("metadata") or {}
    name = (meta.get("labels") or {}).get(RESOURCE_SLICE_NAME_LABEL)
    return [f"{meta.get('namespace')}/{name}"] if name else []


def _slice_owner_key(vn: JSONObject) -> list[str]:
    meta = vn.get("metadata") or {}
    return [
        f"{meta.get('namespace')}/{ref['name']}"
        for ref in meta.get("ownerReferences") or []
        if ref.get("kind") == "ResourceSlice"
    ]


def build(context: ControllerContext) -> list[Controller]:
    """The ``resourceslice_vncreator`` controller of the module's operator."""
    workers = offloading_settings(context.settings).workers
    return [VirtualNodeCreator(context.kube, context.informers, workers).controller()]
