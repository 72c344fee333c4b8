"""The VirtualNode's ``VirtualKubelet`` and ``Node`` conditions (pure).

Statuses are upstream's: ``None``, ``Creating``, ``Running``, ``Draining``, ``Deleting``.
The virtual kubelet is Running once its Deployment has a ready replica, the Node once it
exists and is Ready; a Node that is not wanted (``createNode: false``) is None.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from liqo_core.api.consts import VIRTUAL_NODE_CONDITION_NODE, VIRTUAL_NODE_CONDITION_VIRTUAL_KUBELET

JSONObject = dict[str, Any]

KUBELET = VIRTUAL_NODE_CONDITION_VIRTUAL_KUBELET
NODE = VIRTUAL_NODE_CONDITION_NODE
NONE, CREATING, RUNNING, DRAINING, DELETING = "None", "Creating", "Running", "Draining", "Deleting"


@dataclass(frozen=True)
class State:
    """One condition's status, with why."""

    status: str
    reason: str
    message: str


def now() -> str:
    """The current time as Kubernetes writes it."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def kubelet_state(deployment: Mapping[str, Any] | None) -> State:
    """The virtual kubelet's condition from its Deployment."""
    if deployment is None:
        return State(
            CREATING, "DeploymentMissing", "the virtual kubelet Deployment is being created"
        )
    status = deployment.get("status") or {}
    ready = int(status.get("readyReplicas") or 0)
    if ready > 0:
        return State(RUNNING, "DeploymentReady", f"{ready} virtual kubelet replica(s) ready")
    return State(CREATING, "WaitingForReplicas", "no virtual kubelet replica is ready yet")


def node_ready(node: Mapping[str, Any] | None) -> bool:
    """Whether ``node`` reports condition Ready=True."""
    for condition in (node or {}).get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def node_state(node: Mapping[str, Any] | None, create_node: bool) -> State:
    """The Node's condition: None when not wanted, Running once Ready."""
    if not create_node:
        return State(NONE, "NodeNotRequested", "spec.createNode is false")
    if node is None:
        return State(
            CREATING, "NodeMissing", "waiting for the virtual kubelet to register the Node"
        )
    if node_ready(node):
        return State(RUNNING, "NodeReady", "the Node is Ready")
    return State(CREATING, "NodeNotReady", "the Node exists but is not Ready")


def with_condition(
    conditions: Sequence[Mapping[str, Any]] | None, kind: str, state: State, stamp: str
) -> list[JSONObject]:
    """``conditions`` with condition ``kind`` set to ``state`` (its transition time kept
    when the status does not change)."""
    result: list[JSONObject] = []
    found = False
    for condition in conditions or []:
        current = dict(condition)
        if current.get("type") == kind:
            found = True
            if current.get("status") != state.status or not current.get("lastTransitionTime"):
                current["lastTransitionTime"] = stamp
            current.update(status=state.status, reason=state.reason, message=state.message)
        result.append(current)
    if not found:
        result.append(
            {
                "type": kind,
                "status": state.status,
                "lastTransitionTime": stamp,
                "reason": state.reason,
                "message": state.message,
            }
        )
    return sorted(result, key=lambda c: (c.get("type") != KUBELET, str(c.get("type"))))


def status_of(conditions: Sequence[Mapping[str, Any]] | None, kind: str) -> str | None:
    """The status of condition ``kind``, if any."""
    for condition in conditions or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None
