"""The ``identity_creator`` controller (consumer): an Identity for each authenticated slice.

Once the provider has put the slice's credential in ``status.authParams`` (condition
``Authentication`` not ``Denied``), Identity ``resourceslice-<slice>`` (type
``ResourceSlice``, labels ``liqo.io/resourceslice-name`` and ``liqo.io/remote-cluster-id``,
owned by the slice) carries it; the ``identity`` controller turns it into Secret
``kubeconfig-resourceslice-<slice>``. A rotated credential updates the Identity; a
denied slice loses it. ``spec.namespace`` is the consumer's tenant namespace on the
provider, read from the ControlPlane kubeconfig Secret of the slice's namespace.
"""

from __future__ import annotations

import logging

import kopf

from liqo_auth.identity import identities_path
from liqo_auth.kube import secrets_path
from liqo_auth.resourceslice.common import (
    AUTHENTICATION,
    DENIED,
    LOCAL_SLICE_LABELS,
    apply_owned,
    condition_status,
    identity_name,
    labels_of,
    on_slice_event,
    owned_by,
    owner_reference,
    slices_path,
)
from liqo_core import LiqoSettings
from liqo_core.api.authentication_v1beta1 import GROUP, VERSION
from liqo_core.api.consts import (
    IDENTITY_TYPE_LABEL,
    REMOTE_CLUSTER_ID_LABEL,
    REMOTE_TENANT_NAMESPACE_ANNOTATION,
    REPLICATION_DESTINATION_LABEL,
    RESOURCE_SLICE_NAME_LABEL,
)
from liqo_core.kube import JSONObject, Kube

logger = logging.getLogger(__name__)


async def remote_tenant_namespace(api: Kube, namespace: str, provider: str) -> str | None:
    """The tenant namespace on ``provider``, from a ControlPlane kubeconfig Secret's annotation."""
    selector = f"{IDENTITY_TYPE_LABEL}=ControlPlane,{REMOTE_CLUSTER_ID_LABEL}={provider}"
    for secret in await api.list_items(secrets_path(namespace), selector):
        annotations = secret["metadata"].get("annotations") or {}
        if annotations.get(REMOTE_TENANT_NAMESPACE_ANNOTATION):
            return str(annotations[REMOTE_TENANT_NAMESPACE_ANNOTATION])
    return None


def desired_identity(
    body: JSONObject, provider: str, auth_params: JSONObject, remote_ns: str | None
) -> JSONObject:
    """The Identity carrying the slice's credential."""
    meta = body["metadata"]
    spec: JSONObject = {"clusterID": provider, "type": "ResourceSlice", "authParams": auth_params}
    if remote_ns:
        spec["namespace"] = remote_ns
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Identity",
        "metadata": {
            "name": identity_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": {RESOURCE_SLICE_NAME_LABEL: meta["name"], REMOTE_CLUSTER_ID_LABEL: provider},
            "ownerReferences": [owner_reference(body, "ResourceSlice")],
        },
        "spec": spec,
    }


async def reconcile(api: Kube, namespace: str, name: str) -> str | None:
    """Create, update or delete the slice's Identity; return what was done."""
    body = await api.get(slices_path(namespace, name))
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    if condition_status(body, AUTHENTICATION) == DENIED:
        path = identities_path(namespace, identity_name(name))
        if owned_by(await api.get(path), body):
            await api.delete(path)
            return "Identity deleted"
        return None
    params = (body.get("status") or {}).get("authParams")
    provider = (body.get("spec") or {}).get("providerClusterID") or labels_of(body).get(
        REPLICATION_DESTINATION_LABEL
    )
    if not params or not provider:
        return None
    remote_ns = await remote_tenant_namespace(api, namespace, provider)
    desired = desired_identity(body, provider, params, remote_ns)
    done = await apply_owned(api, identities_path(namespace), desired)
    return done and f"Identity {done}"


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings) -> None:
    """Register the ``identity_creator`` controller."""
    on_slice_event(registry, "identity_creator", LOCAL_SLICE_LABELS, reconcile, logger)
