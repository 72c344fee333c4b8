"""The ShadowPod admission rules (upstream's ShadowPod webhooks), without the API.

- Creator: the mutating webhook stamps label ``liqo.io/creator-user`` with the requesting
  user (escaped into a label value); later updates must come from that same user and
  cannot change it.
- Origin: a ShadowPod carries ``offloading.liqo.io/origin`` (the consumer cluster), equal to
  the ``liqo.io/remote-cluster-id`` label of its namespace, and keeps it.
- Updates may change container images, ``activeDeadlineSeconds`` and tolerations only.
- Quota (creation): the Quota whose ``spec.user`` is the creator must exist and not be
  cordoned; the pod's requests (sum over containers, at least the largest init container)
  are counted against ``spec.resources`` together with those of the creator's other
  ShadowPods. ``limitsEnforcement`` ``Soft`` requires cpu and memory requests on every
  container, ``Hard`` also limits equal to the requests; ``None`` requires nothing, but
  what is requested must still fit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from liqo_core.api.consts import (
    CREATOR_USER_LABEL,
    REFLECTION_ORIGIN_LABEL,
    REMOTE_CLUSTER_ID_LABEL,
)
from liqo_core.kube.quantity import Quantity, QuantityError

JSONObject = dict[str, Any]
Resources = dict[str, Quantity]

NONE, SOFT, HARD = "None", "Soft", "Hard"
REQUIRED_REQUESTS: Final = ("cpu", "memory")
#: Pod spec fields an update may change (upstream's CheckShadowPodUpdate).
MUTABLE_POD_FIELDS: Final = ("activeDeadlineSeconds", "tolerations")

_LABEL_ESCAPE = re.compile(r"[^A-Za-z0-9_\-.]")


def escape_label(value: str) -> str:
    """``value`` as a label value: every character but letters, digits, ``_-.`` → ``-``."""
    return _LABEL_ESCAPE.sub("-", value)


def meta_of(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    """``metadata`` of ``obj``."""
    return dict((obj or {}).get("metadata") or {})


def labels_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    """``metadata.labels`` of ``obj``."""
    return dict(meta_of(obj).get("labels") or {})


def pod_spec_of(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    """``spec.pod`` of a ShadowPod."""
    return dict(((obj or {}).get("spec") or {}).get("pod") or {})


def describe(obj: Mapping[str, Any]) -> str:
    """``ShadowPod <namespace>/<name>``, for messages."""
    meta = meta_of(obj)
    return f"ShadowPod {meta.get('namespace')}/{meta.get('name') or meta.get('generateName') or ''}"


# --- creator ----------------------------------------------------------------------------


def requester(userinfo: Mapping[str, Any] | None) -> str:
    """The label value naming the requesting user ('' when the request has none)."""
    return escape_label(str((userinfo or {}).get("username") or ""))


def creator_stamp(
    operation: str, old: Mapping[str, Any] | None, userinfo: Mapping[str, Any] | None
) -> tuple[str | None, list[str]]:
    """The ``liqo.io/creator-user`` value to stamp, or the problems refusing the request.

    A creation is stamped with its requester; an update keeps the creator and must come
    from the creator, except on a ShadowPod being deleted (the garbage collector removes
    finalizers of what others created).
    """
    user = requester(userinfo)
    if operation == "CREATE":
        return (user, []) if user else (None, ["the request has no user to record as creator"])
    creator = labels_of(old).get(CREATOR_USER_LABEL)
    if not creator:
        return None, [f"label {CREATOR_USER_LABEL} is missing: the creator is unknown"]
    if meta_of(old).get("deletionTimestamp") or user == creator:
        return creator, []
    return None, [
        f"label {CREATOR_USER_LABEL} is immutable and only its creator {creator!r} may update "
        f"the ShadowPod (requested by {user!r})"
    ]


# --- origin and updates -----------------------------------------------------------------


def origin_problems(shadow: Mapping[str, Any], namespace: Mapping[str, Any] | None) -> list[str]:
    """Why ``shadow`` may not live in ``namespace`` (``None``: not found)."""
    origin = labels_of(shadow).get(REFLECTION_ORIGIN_LABEL)
    if not origin:
        return [f"label {REFLECTION_ORIGIN_LABEL} (the consumer cluster) is missing"]
    name = meta_of(shadow).get("namespace")
    if namespace is None:
        return [f"namespace {name!r} not found"]
    cluster = labels_of(namespace).get(REMOTE_CLUSTER_ID_LABEL)
    if cluster != origin:
        return [
            f"label {REFLECTION_ORIGIN_LABEL}={origin!r} does not match the cluster of namespace "
            f"{name!r} ({REMOTE_CLUSTER_ID_LABEL}={cluster!r})"
        ]
    return []


def _without_mutable(spec: Mapping[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in spec.items() if k not in MUTABLE_POD_FIELDS}
    for field in ("containers", "initContainers"):
        if field in result:
            result[field] = [
                {k: v for k, v in (c or {}).items() if k != "image"} for c in result[field] or []
            ]
    return result


def update_problems(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Why updating ``old`` into ``new`` is refused."""
    problems = []
    for label in (REFLECTION_ORIGIN_LABEL, CREATOR_USER_LABEL):
        before, after = labels_of(old).get(label), labels_of(new).get(label)
        if label == REFLECTION_ORIGIN_LABEL and not after:
            problems.append(f"label {label} (the consumer cluster) is missing")
        elif before != after and (before or label == REFLECTION_ORIGIN_LABEL):
            problems.append(f"label {label} is immutable ({before!r} → {after!r})")
    if _without_mutable(pod_spec_of(old)) != _without_mutable(pod_spec_of(new)):
        problems.append(
            "spec.pod is immutable but for container images, activeDeadlineSeconds and tolerations"
        )
    return problems


# --- resources --------------------------------------------------------------------------


def _quantities(values: Mapping[str, Any] | None, where: str, problems: list[str]) -> Resources:
    result: Resources = {}
    for key, value in (values or {}).items():
        try:
            result[str(key)] = Quantity.parse(value)
        except QuantityError as err:
            problems.append(f"{where}: {key}: {err}")
    return result


def _container_requests(
    container: Mapping[str, Any], kind: str, enforcement: str, problems: list[str]
) -> Resources:
    """One container's requests, noting in ``problems`` what ``enforcement`` misses."""
    name = container.get("name") or "?"
    resources = container.get("resources") or {}
    requests = _quantities(resources.get("requests"), f"{kind} {name!r} requests", problems)
    limits = _quantities(resources.get("limits"), f"{kind} {name!r} limits", problems)
    if enforcement in (SOFT, HARD):
        missing = [key for key in REQUIRED_REQUESTS if key not in requests]
        if missing:
            problems.append(
                f"{kind} {name!r} sets no {' and '.join(missing)} requests "
                f"(required by limitsEnforcement {enforcement})"
            )
    if enforcement == HARD:
        for key, request in sorted(requests.items()):
            limit = limits.get(key)
            if limit != request:
                problems.append(
                    f"{kind} {name!r}: its {key} limit ({limit if limit is not None else 'none'})"
                    f" must equal its request ({request}) (limitsEnforcement Hard)"
                )
    return requests


def pod_requests(spec: Mapping[str, Any], enforcement: str = NONE) -> tuple[Resources, list[str]]:
    """What a pod asks for (containers summed, then the largest init container request of
    each resource if larger) and, under ``enforcement``, what its containers lack."""
    problems: list[str] = []
    if not spec.get("containers"):
        problems.append("the pod has no containers")
    total = total_of(
        _container_requests(c or {}, "container", enforcement, problems)
        for c in spec.get("containers") or []
    )
    for container in spec.get("initContainers") or []:
        requests = _container_requests(container or {}, "init container", enforcement, problems)
        for key, request in requests.items():
            if key not in total or total[key] < request:
                total[key] = request
    return total, problems


def total_of(requests: Iterable[Mapping[str, Quantity]]) -> Resources:
    """The sum of several requests."""
    result: Resources = {}
    for one in requests:
        for key, value in one.items():
            result[key] = result[key] + value if key in result else value
    return result


def quota_problems(
    quota: Mapping[str, Any], requested: Mapping[str, Quantity], used: Mapping[str, Quantity]
) -> list[str]:
    """Why ``requested`` does not fit in ``quota`` with ``used`` already taken."""
    spec = quota.get("spec") or {}
    user = spec.get("user")
    problems: list[str] = []
    limits = _quantities(spec.get("resources"), f"Quota {meta_of(quota).get('name')}", problems)
    for key, request in sorted(requested.items()):
        limit = limits.get(key)
        if limit is None:
            problems.append(
                f"{key} is requested ({request}) but the Quota of user {user!r} grants none"
            )
            continue
        taken = used.get(key, Quantity.parse(0))
        if taken + request > limit:
            free = limit - taken
            problems.append(
                f"the {key} quota of user {user!r} is exceeded: requested {request}, "
                f"in use {taken} of {limit} (free {free if free > 0 else Quantity.parse(0)})"
            )
    return problems


def quota_of(quotas: Iterable[Mapping[str, Any]], creator: str) -> Mapping[str, Any] | None:
    """The Quota whose user, escaped, is ``creator`` (upstream's ``GetQuotaByUser``)."""
    for quota in quotas:
        if escape_label(str((quota.get("spec") or {}).get("user") or "")) == creator:
            return quota
    return None


def admission_problems(
    shadow: Mapping[str, Any],
    quota: Mapping[str, Any] | None,
    used: Mapping[str, Quantity],
) -> tuple[Resources, list[str]]:
    """The requests of a new ShadowPod and why its creator's Quota refuses it."""
    creator = labels_of(shadow).get(CREATOR_USER_LABEL)
    if not creator:
        return {}, [f"label {CREATOR_USER_LABEL} is missing: the creator is unknown"]
    if quota is None:
        return {}, [f"no Quota for user {creator!r}: its pods are not accepted"]
    spec = quota.get("spec") or {}
    if spec.get("cordoned"):
        return {}, [f"the Quota of user {creator!r} is cordoned: no new pods are accepted"]
    enforcement = str(spec.get("limitsEnforcement") or NONE)
    requested, problems = pod_requests(pod_spec_of(shadow), enforcement)
    if problems:
        return requested, problems
    return requested, quota_problems(quota, requested, used)
