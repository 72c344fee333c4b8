"""The ``quotacreator`` controller (provider): a Quota for each granted replicated slice.

The Quota (``offloading.liqo.io``) is named after the slice's certificate CN, which is also
its ``user``; it carries the granted resources, the controller-manager's
``defaultLimitsEnforcement`` and ``cordoned: true`` when the slice is annotated
``liqo.io/cordon`` or ``liqo.io/cordon-tenant`` = ``true``. It is owned by the slice (so
garbage-collected with it) and deleted when the slice's resources are denied.
"""

from __future__ import annotations

import logging

import kopf

from liqo_auth.resourceslice.common import (
    ACCEPTED,
    REPLICATED_SLICE_LABELS,
    RESOURCES,
    apply_owned,
    condition_status,
    labels_of,
    on_slice_event,
    owned_by,
    owner_reference,
    quotas_path,
    slice_common_name,
    slices_path,
)
from liqo_auth.settings import auth_settings
from liqo_core import LiqoSettings
from liqo_core.api import offloading_v1beta1
from liqo_core.api.consts import (
    CORDON_ANNOTATION,
    CORDON_TENANT_ANNOTATION,
    REMOTE_CLUSTER_ID_LABEL,
    REPLICATION_ORIGIN_LABEL,
    RESOURCE_SLICE_NAME_LABEL,
)
from liqo_core.kube import JSONObject, Kube

logger = logging.getLogger(__name__)


def is_cordoned(body: JSONObject) -> bool:
    """Whether the slice (or its whole tenant) is cordoned by annotation."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    return any(
        annotations.get(key) == "true" for key in (CORDON_ANNOTATION, CORDON_TENANT_ANNOTATION)
    )


def desired_quota(body: JSONObject, consumer: str, enforcement: str) -> JSONObject:
    """The Quota a granted slice should have."""
    meta = body["metadata"]
    name = slice_common_name(meta["name"], consumer)
    return {
        "apiVersion": f"{offloading_v1beta1.GROUP}/{offloading_v1beta1.VERSION}",
        "kind": "Quota",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": {REMOTE_CLUSTER_ID_LABEL: consumer, RESOURCE_SLICE_NAME_LABEL: meta["name"]},
            "ownerReferences": [owner_reference(body, "ResourceSlice")],
        },
        "spec": {
            "user": name,
            "limitsEnforcement": enforcement,
            "resources": dict((body.get("status") or {}).get("resources") or {}),
            "cordoned": is_cordoned(body),
        },
    }


async def reconcile(api: Kube, settings: LiqoSettings, namespace: str, name: str) -> str | None:
    """Create, update or delete the slice's Quota; return what was done (``None``: nothing)."""
    body = await api.get(slices_path(namespace, name))
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    consumer = labels_of(body).get(REPLICATION_ORIGIN_LABEL)
    if not consumer:
        return None
    status = body.get("status") or {}
    if condition_status(body, RESOURCES) != ACCEPTED or not status.get("resources"):
        path = quotas_path(namespace, slice_common_name(name, consumer))
        if owned_by(await api.get(path), body):
            await api.delete(path)
            return "Quota deleted"
        return None
    enforcement = auth_settings(settings).default_limits_enforcement
    done = await apply_owned(
        api, quotas_path(namespace), desired_quota(body, consumer, enforcement)
    )
    return done and f"Quota {done}"


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings) -> None:
    """Register the ``quotacreator`` controller."""

    async def reconcile_quota(api: Kube, namespace: str, name: str) -> str | None:
        return await reconcile(api, settings, namespace, name)

    on_slice_event(registry, "quotacreator", REPLICATED_SLICE_LABELS, reconcile_quota, logger)
