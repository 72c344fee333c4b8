"""What the ResourceSlice controllers share: names, conditions, decisions, renewal timing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import quote

import kopf

from liqo_auth import crypto
from liqo_auth.kube import operator_api
from liqo_auth.reconcile import with_retries
from liqo_core.api import offloading_v1beta1
from liqo_core.api.authentication_v1beta1 import GROUP, VERSION
from liqo_core.api.consts import (
    REPLICATION_DESTINATION_LABEL,
    REPLICATION_ORIGIN_LABEL,
    REPLICATION_REQUESTED_LABEL,
    REPLICATION_STATUS_LABEL,
    RESOURCE_SLICE_CONDITION_AUTHENTICATION,
    RESOURCE_SLICE_CONDITION_RESOURCES,
)
from liqo_core.kube import JSONObject, Kube

#: Condition types and statuses (upstream's custom condition style).
AUTHENTICATION = RESOURCE_SLICE_CONDITION_AUTHENTICATION
RESOURCES = RESOURCE_SLICE_CONDITION_RESOURCES
ACCEPTED: Final[Literal["Accepted"]] = "Accepted"  # consts.RESOURCE_SLICE_ACCEPTED
DENIED: Final[Literal["Denied"]] = "Denied"  # consts.RESOURCE_SLICE_DENIED
#: The built-in class names; any other class is decided by an external controller.
DEFAULT_CLASSES = ("", "default")
#: Prefix of the Identity carrying a slice's credential.
RESOURCE_SLICE_IDENTITY_PREFIX = "resourceslice-"

ConditionStatus = Literal["Accepted", "Denied"]
#: Labels of the slices a consumer asks for, and of their copies on the provider.
LOCAL_SLICE_LABELS: Final[dict[str, Any]] = {
    REPLICATION_REQUESTED_LABEL: "true",
    REPLICATION_DESTINATION_LABEL: kopf.PRESENT,
}
REPLICATED_SLICE_LABELS: Final[dict[str, Any]] = {
    REPLICATION_STATUS_LABEL: "true",
    REPLICATION_ORIGIN_LABEL: kopf.PRESENT,
}


def slices_path(namespace: str | None = None, name: str | None = None, sub: str = "") -> str:
    """REST path of the ResourceSlices (all namespaces when ``namespace`` is ``None``)."""
    base = f"/apis/{GROUP}/{VERSION}"
    if namespace is None:
        return f"{base}/resourceslices"
    path = f"{base}/namespaces/{quote(namespace)}/resourceslices"
    if name:
        path += f"/{quote(name)}"
    return path + (f"/{sub}" if sub else "")


def quotas_path(namespace: str, name: str | None = None) -> str:
    """REST path of the Quotas (``offloading.liqo.io``) of ``namespace`` (or of one)."""
    group, version = offloading_v1beta1.GROUP, offloading_v1beta1.VERSION
    base = f"/apis/{group}/{version}/namespaces/{quote(namespace)}/quotas"
    return f"{base}/{quote(name)}" if name else base


def slice_common_name(slice_name: str, consumer_id: str) -> str:
    """The CN of a slice's certificate: ``<slice>-<hex of sha256(consumer)[:6]>``."""
    return f"{slice_name}-{hashlib.sha256(consumer_id.encode()).digest()[:6].hex()}"


def identity_name(slice_name: str) -> str:
    """Name of the consumer's Identity for a slice."""
    return f"{RESOURCE_SLICE_IDENTITY_PREFIX}{slice_name}"


def is_default_class(slice_class: str | None) -> bool:
    """Whether ``slice_class`` selects the built-in policy."""
    return (slice_class or "") in DEFAULT_CLASSES


def labels_of(body: JSONObject) -> dict[str, str]:
    """The object's labels."""
    return dict((body.get("metadata") or {}).get("labels") or {})


def condition(body: JSONObject, kind: str) -> JSONObject | None:
    """The slice's condition of type ``kind``."""
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == kind), None)


def condition_status(body: JSONObject, kind: str) -> str | None:
    """``Accepted``, ``Denied`` or ``None`` (undecided)."""
    found = condition(body, kind)
    return None if found is None else found.get("status")


def now_timestamp() -> str:
    """The current time as a Kubernetes timestamp."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_condition(
    conditions: list[JSONObject], kind: str, status: ConditionStatus, reason: str, message: str
) -> list[JSONObject]:
    """``conditions`` with ``kind`` set; its transition time is kept when the status is not new."""
    current = next((c for c in conditions if c.get("type") == kind), None)
    if current is not None and current.get("status") == status:
        transition = current.get("lastTransitionTime") or now_timestamp()
    else:
        transition = now_timestamp()
    updated: JSONObject = {
        "type": kind,
        "status": status,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }
    kept = [c for c in conditions if c.get("type") != kind]
    return (
        [*kept, updated]
        if current is None
        else [updated if c.get("type") == kind else c for c in conditions]
    )


def overlay_resources(defaults: dict[str, str], requested: dict[str, str] | None) -> dict[str, str]:
    """The default node resources with the requested quantities put over them."""
    return {**defaults, **(requested or {})}


@dataclass(frozen=True)
class Decision:
    """What the built-in policy answers for a slice's resources."""

    status: ConditionStatus
    reason: str
    message: str


def decide_resources(
    tenant_condition: str,
    slice_class: str | None,
    default_class_enabled: bool,
    current: str | None,
) -> Decision | None:
    """The Resources decision, or ``None`` to leave the slice as it is.

    :param tenant_condition: ``Active``, ``Cordoned`` or ``Drained``.
    :param current: The slice's current Resources status (``None``: never decided).
    """
    if tenant_condition == "Drained":
        return Decision(DENIED, "TenantDrained", "the tenant is drained")
    if tenant_condition == "Cordoned":
        if current is None:
            return Decision(DENIED, "TenantCordoned", "the tenant is cordoned")
        return None
    if not is_default_class(slice_class):
        return None  # an external class controller decides
    if not default_class_enabled:
        return Decision(
            DENIED,
            "DefaultResourceSliceClassDisabled",
            "the default ResourceSlice class is disabled on this provider",
        )
    return Decision(ACCEPTED, "ResourcesAccepted", "resources granted by the default class")


def _token_window(token: str) -> tuple[float, float] | None:
    """``(iat or nbf, exp)`` of a JWT (claims read, not verified); ``None`` if it has none."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
        start = claims.get("nbf", claims.get("iat"))
        return float(start), float(claims["exp"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def credential_window(auth_params: JSONObject) -> tuple[float, float] | None:
    """Validity (POSIX times) of the certificate or token in ``authParams``."""
    if auth_params.get("signedCRT"):
        try:
            pem = base64.b64decode(auth_params["signedCRT"])
        except (ValueError, binascii.Error):
            return None
        validity = crypto.certificate_validity(pem)
        return None if validity is None else (validity.not_before, validity.not_after)
    if auth_params.get("token"):
        return _token_window(str(auth_params["token"]))
    return None


def replacing(current: JSONObject, desired: JSONObject) -> JSONObject:
    """A JSON merge patch turning ``current`` into ``desired`` (keys not desired are nulled)."""
    patch: JSONObject = {key: None for key in current if key not in desired}
    for key, value in desired.items():
        old = current.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            patch[key] = replacing(old, value)
        else:
            patch[key] = value
    return patch


def owner_reference(body: JSONObject, kind: str) -> JSONObject:
    """A controller owner reference to ``body``."""
    return {
        "apiVersion": body.get("apiVersion") or f"{GROUP}/{VERSION}",
        "kind": kind,
        "name": body["metadata"]["name"],
        "uid": body["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(obj: JSONObject | None, owner: JSONObject) -> bool:
    """Whether ``obj`` has ``owner`` among its owner references."""
    refs = ((obj or {}).get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("uid") == owner["metadata"]["uid"] for ref in refs)


async def apply_owned(api: Kube, collection: str, desired: JSONObject) -> str | None:
    """Create ``desired`` in ``collection`` or bring its labels, owners and spec up to date.

    Returns ``created``, ``updated`` or ``None`` (already as desired).
    """
    path = f"{collection}/{quote(desired['metadata']['name'])}"
    current = await api.get(path)
    if current is None:
        if await api.create(collection, desired) is not None:
            return "created"
        current = await api.get(path) or {}
    wanted_labels = desired["metadata"]["labels"]
    current_labels = labels_of(current)
    if current.get("spec") == desired["spec"] and all(
        current_labels.get(k) == v for k, v in wanted_labels.items()
    ):
        return None
    patch = {
        "metadata": {
            "labels": wanted_labels,
            "ownerReferences": desired["metadata"]["ownerReferences"],
        },
        "spec": replacing(current.get("spec") or {}, desired["spec"]),
    }
    await api.merge_patch(path, patch)
    return "updated"


SliceReconciler = Callable[[Kube, str, str], Awaitable[str | None]]


def on_slice_event(
    registry: kopf.OperatorRegistry,
    controller: str,
    labels: dict[str, Any],
    reconcile: SliceReconciler,
    logger: logging.Logger,
) -> None:
    """Run ``reconcile(api, namespace, name)`` (with retries) on every event of a slice
    labelled ``labels``, deletions aside; log what it reports doing."""

    @kopf.on.event(
        GROUP, VERSION, "resourceslices", labels=labels, registry=registry, id=controller
    )
    async def slice_changed(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
        if type == "DELETED":
            return  # what the controllers create is owned by the slice
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""

        async def work() -> None:
            async with operator_api(memo.kube_target) as api:
                done = await reconcile(api, namespace, name)
                if done:
                    logger.info("ResourceSlice %s/%s: %s", namespace, name, done)

        await with_retries(logger, f"{controller} {namespace}/{name}", work)
