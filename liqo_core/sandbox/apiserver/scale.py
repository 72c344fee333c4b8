"""The ``scale`` subresource: an ``autoscaling/v1`` Scale view of replicas and selector."""

from __future__ import annotations

from typing import Any

from . import errors
from .types import JSON, ResourceType

BUILTIN_PATHS = {
    "specReplicasPath": ".spec.replicas",
    "statusReplicasPath": ".status.replicas",
    "labelSelectorPath": ".status.selector",
}


def _get(obj: JSON, path: str) -> Any:
    cur: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _set(obj: JSON, path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    cur = obj
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def selector_string(selector: Any) -> str:
    """A LabelSelector object in its string form (``a=b,c in (d)``)."""
    if isinstance(selector, str):
        return selector
    if not isinstance(selector, dict):
        return ""
    if not {"matchLabels", "matchExpressions"} & selector.keys():
        # A ReplicationController's selector is a plain label map.
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = expr.get("operator")
        values = ",".join(expr.get("values") or [])
        if op == "In":
            terms.append(f"{expr['key']} in ({values})")
        elif op == "NotIn":
            terms.append(f"{expr['key']} notin ({values})")
        elif op == "Exists":
            terms.append(expr["key"])
        elif op == "DoesNotExist":
            terms.append(f"!{expr['key']}")
    return ",".join(terms)


def to_scale(obj: JSON, paths: dict[str, str], builtin: bool) -> JSON:
    """The Scale view of ``obj``."""
    m = obj["metadata"]
    meta = {
        k: m[k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in m
    }
    status: JSON = {"replicas": int(_get(obj, paths.get("statusReplicasPath", "")) or 0)}
    if builtin:
        selector = selector_string((obj.get("spec") or {}).get("selector"))
    else:
        path = paths.get("labelSelectorPath")
        selector = str(_get(obj, path) or "") if path else ""
    if selector:
        status["selector"] = selector
    spec_replicas = _get(obj, paths.get("specReplicasPath", ".spec.replicas"))
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta,
        "spec": {"replicas": int(spec_replicas or 0)},
        "status": status,
    }


def apply_scale(rt: ResourceType, obj: JSON, scale: JSON, paths: dict[str, str]) -> JSON:
    """``obj`` with the replicas of an updated Scale."""
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        raise errors.invalid(
            rt,
            obj["metadata"]["name"],
            [
                (
                    "spec.replicas",
                    "FieldValueInvalid",
                    f"spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0",
                )
            ],
        )
    _set(obj, paths.get("specReplicasPath", ".spec.replicas"), replicas)
    return obj
