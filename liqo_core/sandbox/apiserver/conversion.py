"""Kinds stored once and served in two API groups: ``events`` (core v1 and events.k8s.io/v1).

Upstream keeps one storage for both; an Event written through one group is read through
the other with its fields renamed.
"""

from __future__ import annotations

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
