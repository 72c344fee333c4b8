"""Helpers shared by the workload controllers: owner references, template hashes, pod state."""

from __future__ import annotations

import copy
import json
from typing import Any

from liqo_core.sandbox.timeutil import now

JSON = dict[str, Any]

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: JSON, collision_count: int = 0) -> str:
    """A short, stable, DNS-safe hash of a pod template (FNV-1a 32 bit, safe alphabet)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    value = 0x811C9DC5
    for byte in data:
        value ^= byte
        value = (value * 0x01000193) & 0xFFFFFFFF
    out = ""
    while True:
        value, digit = divmod(value, len(_SAFE_ALPHABET))
        out += _SAFE_ALPHABET[digit]
        if not value:
            return out


def owner_reference(owner: JSON) -> JSON:
    """A controller reference to ``owner``."""
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: JSON) -> JSON | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            found: JSON = ref
            return found
    return None


def is_controlled_by(obj: JSON, owner: JSON) -> bool:
    """Whether ``owner`` is the controller of ``obj`` (by UID)."""
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == owner["metadata"].get("uid")


def pod_ready(pod: JSON) -> bool:
    """The pod's Ready condition is True."""
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def pod_active(pod: JSON) -> bool:
    """Not terminating and not finished: counts towards a controller's replicas."""
    return not pod.get("metadata", {}).get("deletionTimestamp") and pod.get("status", {}).get(
        "phase"
    ) not in ("Succeeded", "Failed")


def pod_from_template(
    template: JSON, owner: JSON, generate_name: str, extra_labels: dict[str, str] | None = None
) -> JSON:
    """A Pod built from a controller's pod template."""
    meta = copy.deepcopy(template.get("metadata") or {})
    labels = dict(meta.get("labels") or {})
    labels.update(extra_labels or {})
    pod_meta: JSON = {
        "generateName": generate_name,
        "namespace": owner["metadata"]["namespace"],
        "labels": labels,
        "ownerReferences": [owner_reference(owner)],
    }
    if meta.get("annotations"):
        pod_meta["annotations"] = dict(meta["annotations"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def set_condition(
    conditions: list[JSON], kind: str, status: str, reason: str, message: str
) -> list[JSON]:
    """Conditions with ``kind`` set; lastTransitionTime moves only when the status changes."""
    stamp = now()
    result: list[JSON] = []
    found = False
    for condition in conditions:
        if condition.get("type") == kind:
            found = True
            changed = condition.get("status") != status
            updated = dict(condition, status=status, reason=reason, message=message)
            updated["lastUpdateTime"] = stamp
            if changed:
                updated["lastTransitionTime"] = stamp
            result.append(updated)
        else:
            result.append(condition)
    if not found:
        result.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp,
            }
        )
    return result


def selector_matches(selector: JSON, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against labels; empty matches all."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, operator = expr.get("key", ""), expr.get("operator")
        values = expr.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True
