"""Pod status documents as a kubelet writes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from liqo_core.sandbox.timeutil import now

JSON = dict[str, Any]


def qos_class(pod: JSON) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    containers = (pod.get("spec", {}).get("containers") or []) + (
        pod.get("spec", {}).get("initContainers") or []
    )
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if requests or limits:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def conditions(
    scheduled: bool, initialized: bool, containers_ready: bool, old: list[JSON]
) -> list[JSON]:
    """The five pod conditions, keeping lastTransitionTime when a status is unchanged.

    Conditions of other types (readiness gates, ``DisruptionTarget``, ones a test or a
    controller set) are kept as they are, as the kubelet leaves conditions it does not own.
    """
    previous = {c.get("type"): c for c in old}
    stamp = now()
    wanted = [
        ("PodReadyToStartContainers", initialized or containers_ready),
        ("Initialized", initialized),
        ("ContainersReady", containers_ready),
        ("Ready", containers_ready),
        ("PodScheduled", scheduled),
    ]
    result: list[JSON] = []
    for kind, value in wanted:
        status = "True" if value else "False"
        before = previous.get(kind)
        transition = (
            before.get("lastTransitionTime")
            if before and before.get("status") == status and before.get("lastTransitionTime")
            else stamp
        )
        condition: JSON = {
            "type": kind,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": transition,
        }
        if not value and kind in ("ContainersReady", "Ready"):
            condition["reason"] = "ContainersNotReady"
        result.append(condition)
    owned = {kind for kind, _ in wanted}
    result += [dict(c) for c in old if c.get("type") not in owned]
    return result


def running_state(started_at: str) -> JSON:
    """A container state ``running``."""
    return {"running": {"startedAt": started_at}}


def terminated_state(exit_code: int, started_at: str, reason: str | None = None) -> JSON:
    """A container state ``terminated`` (reason Completed for 0, Error otherwise)."""
    return {
        "terminated": {
            "exitCode": exit_code,
            "reason": reason or ("Completed" if exit_code == 0 else "Error"),
            "startedAt": started_at,
            "finishedAt": now(),
        }
    }


def container_status(
    container: JSON,
    *,
    state: JSON,
    ready: bool,
    restart_count: int,
    container_id: str,
    last_state: JSON | None = None,
) -> JSON:
    """One entry of ``status.containerStatuses``."""
    image = str(container.get("image", ""))
    return {
        "name": container["name"],
        "image": image,
        "imageID": f"sandbox://{image}",
        "containerID": container_id,
        "ready": ready,
        "started": "running" in state,
        "restartCount": restart_count,
        "state": state,
        "lastState": last_state or {},
    }


def host_fields(pod_ip: str | None, host_ip: str) -> JSON:
    """hostIP(s) and podIP(s)."""
    fields: JSON = {"hostIP": host_ip, "hostIPs": [{"ip": host_ip}]}
    if pod_ip:
        fields["podIP"] = pod_ip
        fields["podIPs"] = [{"ip": pod_ip}]
    return fields


class ContainerView(Protocol):
    """What :func:`pod_phase` needs to know about a container."""

    state: JSON
    done: bool
    restart_count: int


def _exit_code(view: ContainerView) -> int | None:
    terminated = view.state.get("terminated")
    return int(terminated["exitCode"]) if view.done and terminated is not None else None


def pod_phase(inits: Sequence[ContainerView], mains: Sequence[ContainerView]) -> tuple[str, bool]:
    """The pod phase and whether init containers all completed, as the kubelet decides.

    ``done`` marks a container that will not be restarted.
    """
    init_codes = [_exit_code(view) for view in inits]
    initialized = all(code == 0 for code in init_codes)
    if any(code not in (None, 0) for code in init_codes):
        return "Failed", False
    main_codes = [_exit_code(view) for view in mains]
    if mains and all(code is not None for code in main_codes):
        return ("Succeeded" if all(code == 0 for code in main_codes) else "Failed"), initialized
    if initialized and any(
        "running" in view.state or view.restart_count > 0 or view.done for view in mains
    ):
        return "Running", initialized
    return "Pending", initialized
