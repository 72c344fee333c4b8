"""ResourceQuota for pods: the admission check and the usage reported in ``status``.

Covers the pod-related resources (``pods``, ``count/pods``, ``requests.cpu``,
``requests.memory``, ``limits.cpu``, ``limits.memory``, ``cpu``, ``memory``); other
resources in ``spec.hard`` are reported but not enforced.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from liqo_core.kube.quantity import BINARY_SI, DECIMAL_SI, parse_quantity
from liqo_core.kube.quantity import format_quantity as _format_quantity

from .types import JSON

QUOTA_KEY = ("", "resourcequotas")
_ALIASES = {"cpu": "requests.cpu", "memory": "requests.memory", "count/pods": "pods"}


def format_quantity(value: Fraction, resource: str) -> str:
    """The canonical text of a usage: binary SI for memory and storage, else decimal SI."""
    binary = "memory" in resource or "storage" in resource
    return _format_quantity(value, BINARY_SI if binary else DECIMAL_SI)


def pod_usage(pod: JSON) -> dict[str, Fraction]:
    """What one pod counts against a quota."""
    usage: dict[str, Fraction] = {"pods": Fraction(1)}
    for c in (pod.get("spec") or {}).get("containers") or []:
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for name, qty in (res.get(kind) or {}).items():
                key = f"{kind}.{name}"
                usage[key] = usage.get(key, Fraction(0)) + parse_quantity(qty)
        limits = res.get("limits") or {}
        for name in ("cpu", "memory"):
            if name in limits and name not in (res.get("requests") or {}):
                key = f"requests.{name}"
                usage[key] = usage.get(key, Fraction(0)) + parse_quantity(limits[name])
    return usage


def counts(pod: JSON) -> bool:
    """Whether a pod still consumes quota (not terminal, not being deleted)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def namespace_usage(pods: Iterable[JSON]) -> dict[str, Fraction]:
    """Total usage of the pods that count."""
    total: dict[str, Fraction] = {}
    for pod in pods:
        if counts(pod):
            for key, value in pod_usage(pod).items():
                total[key] = total.get(key, Fraction(0)) + value
    return total


def check_pod(pod: JSON, quotas: Iterable[JSON], used: dict[str, Fraction]) -> str | None:
    """Why creating ``pod`` would break a quota (the 403 message tail), or None."""
    wanted = pod_usage(pod)
    for quota in quotas:
        name = quota["metadata"]["name"]
        hard = (quota.get("spec") or {}).get("hard") or {}
        missing = []
        over_req, over_used, over_hard = [], [], []
        for resource, limit in sorted(hard.items()):
            key = _ALIASES.get(resource, resource)
            if key not in ("pods",) and not key.startswith(("requests.", "limits.")):
                continue
            if key not in wanted:
                missing.append(resource)
                continue
            current = used.get(key, Fraction(0))
            if current + wanted[key] > parse_quantity(limit):
                over_req.append(f"{resource}={format_quantity(wanted[key], resource)}")
                over_used.append(f"{resource}={format_quantity(current, resource)}")
                over_hard.append(f"{resource}={format_quantity(parse_quantity(limit), resource)}")
        if missing:
            return f"failed quota: {name}: must specify {','.join(missing)}"
        if over_req:
            return (
                f"exceeded quota: {name}, requested: {','.join(over_req)}, "
                f"used: {','.join(over_used)}, limited: {','.join(over_hard)}"
            )
    return None


def quota_status(quota: JSON, used: dict[str, Fraction]) -> JSON:
    """``status`` of a quota given the namespace's usage."""
    hard = (quota.get("spec") or {}).get("hard") or {}
    return {
        "hard": dict(hard),
        "used": {
            resource: format_quantity(
                used.get(_ALIASES.get(resource, resource), Fraction(0)), resource
            )
            for resource in hard
        },
    }
