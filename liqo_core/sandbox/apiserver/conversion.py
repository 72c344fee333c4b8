"""Kinds stored once and served in two API groups or versions.

``events`` (core v1 and events.k8s.io/v1): upstream keeps one storage for both; an Event
written through one group is read through the other with its fields renamed.
HorizontalPodAutoscalers: stored at autoscaling/v2, served at v1 too.
"""

from __future__ import annotations

import copy

import orjson

from .types import JSON

SHARED_STORAGE: dict[tuple[str, str], tuple[str, str]] = {
    ("events.k8s.io", "events"): ("", "events"),
}
"""(group, resource) served -> (group, resource) stored."""

_CORE_TO_EVENTS = {
    "involvedObject": "regarding",
    "message": "note",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "reportingComponent": "reportingController",
}
_EVENTS_TO_CORE = {v: k for k, v in _CORE_TO_EVENTS.items()}


def _renamed(obj: JSON, names: dict[str, str], api_version: str) -> JSON:
    out = {names.get(k, k): v for k, v in obj.items()}
    out["apiVersion"] = api_version
    out["kind"] = "Event"
    return out


def to_events_v1(core_event: JSON) -> JSON:
    """A core/v1 Event as events.k8s.io/v1 shows it."""
    return _renamed(core_event, _CORE_TO_EVENTS, "events.k8s.io/v1")


def to_core_v1(event: JSON) -> JSON:
    """An events.k8s.io/v1 Event in its stored (core/v1) form."""
    return _renamed(event, _EVENTS_TO_CORE, "v1")


# -- HorizontalPodAutoscaler: stored at autoscaling/v2, also served at autoscaling/v1 -------
#
# As upstream: v1's targetCPUUtilizationPercentage is v2's cpu Utilization Resource metric;
# what v1 cannot express (other metrics, conditions) travels in the annotations upstream
# uses, so a v1 round trip keeps it.

_HPA_METRICS = "autoscaling.alpha.kubernetes.io/metrics"
_HPA_CURRENT = "autoscaling.alpha.kubernetes.io/current-metrics"
_HPA_CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"


def _is_cpu_utilization(metric: JSON) -> bool:
    resource = metric.get("resource") or {}
    target = resource.get("target") or {}
    return bool(
        metric.get("type") == "Resource"
        and resource.get("name") == "cpu"
        and target.get("type", "Utilization") == "Utilization"
        and "averageUtilization" in target
    )


def _cpu_current(metric: JSON) -> bool:
    resource = metric.get("resource") or {}
    return bool(
        metric.get("type") == "Resource"
        and resource.get("name") == "cpu"
        and "averageUtilization" in (resource.get("current") or {})
    )


def hpa_to_v1(obj: JSON) -> JSON:
    """An autoscaling/v2 HorizontalPodAutoscaler as autoscaling/v1 shows it."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v1"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.get("spec") or {}
    metrics = spec.pop("metrics", None) or []
    spec.pop("behavior", None)
    cpu = next((m for m in metrics if _is_cpu_utilization(m)), None)
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"]["averageUtilization"]
    others = [m for m in metrics if m is not cpu]
    if others:
        annotations[_HPA_METRICS] = orjson.dumps(others).decode()
    status = out.get("status") or {}
    current = status.pop("currentMetrics", None) or []
    conditions = status.pop("conditions", None)
    cpu_now = next((m for m in current if _cpu_current(m)), None)
    if cpu_now is not None:
        utilization = cpu_now["resource"]["current"]["averageUtilization"]
        status["currentCPUUtilizationPercentage"] = utilization
    rest = [m for m in current if m is not cpu_now]
    if rest:
        annotations[_HPA_CURRENT] = orjson.dumps(rest).decode()
    if conditions:
        annotations[_HPA_CONDITIONS] = orjson.dumps(conditions).decode()
    if annotations:
        meta["annotations"] = annotations
    return out


def hpa_to_v2(obj: JSON) -> JSON:
    """An autoscaling/v1 HorizontalPodAutoscaler in its stored (autoscaling/v2) form."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v2"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.setdefault("spec", {})
    metrics: list[JSON] = []
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        metrics.append(
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": target},
                },
            }
        )
    metrics += _loads(annotations.pop(_HPA_METRICS, None))
    if metrics:
        spec["metrics"] = metrics
    status = out.get("status")
    current = _loads(annotations.pop(_HPA_CURRENT, None))
    conditions = _loads(annotations.pop(_HPA_CONDITIONS, None))
    if isinstance(status, dict):
        utilization = status.pop("currentCPUUtilizationPercentage", None)
        if utilization is not None:
            cpu = {"name": "cpu", "current": {"averageUtilization": utilization}}
            current.insert(0, {"type": "Resource", "resource": cpu})
        if current:
            status["currentMetrics"] = current
        if conditions:
            status["conditions"] = conditions
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


def _loads(text: str | None) -> list[JSON]:
    if not text:
        return []
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
