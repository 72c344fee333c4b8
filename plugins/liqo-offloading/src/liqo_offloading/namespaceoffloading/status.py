"""The NamespaceOffloading status, derived from the peers' NamespaceMaps (upstream
``enforceStatus``).

Per peer (by cluster id) the conditions are ``OffloadingRequired`` (True when the
namespace is in the map's ``spec.desiredMapping``) and, once the namespace is required
or the provider reports it, ``Ready`` from ``status.currentMapping[<ns>].phase``:
Accepted → True/NamespaceCreated; CreationLoopBackOff → False/CreationLoopBackOff;
Terminating → False/Terminating; nothing yet → False/Creating. A peer whose map is gone
loses its conditions; while the NamespaceOffloading is deleted, a peer that neither
requires nor reports the namespace any more loses them too (the deletion is done when
none is left). A condition keeps its ``lastTransitionTime`` while status and reason stay.

``offloadingPhase``: Terminating while deleted; else NoClusterSelected (no peer
requires it), Ready (all required ones Accepted), AllFailed / SomeFailed (all / some in
CreationLoopBackOff), InProgress otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from liqo_core.api.consts import NAMESPACE_CONDITION_OFFLOADING_REQUIRED, NAMESPACE_CONDITION_READY

JSONObject = dict[str, Any]

READY: Final = "Ready"
NO_CLUSTER_SELECTED: Final = "NoClusterSelected"
IN_PROGRESS: Final = "InProgress"
SOME_FAILED: Final = "SomeFailed"
ALL_FAILED: Final = "AllFailed"
TERMINATING: Final = "Terminating"

ACCEPTED: Final = "Accepted"
CREATION_LOOP_BACK_OFF: Final = "CreationLoopBackOff"
MAPPING_TERMINATING: Final = "Terminating"


@dataclass(frozen=True)
class Condition:
    """One remote-namespace condition, without its time."""

    type: str
    status: str
    reason: str
    message: str


def required_condition(required: bool) -> Condition:
    """``OffloadingRequired``: whether the clusterSelector chose this peer."""
    if required:
        return Condition(
            NAMESPACE_CONDITION_OFFLOADING_REQUIRED, "True", "ClusterSelected",
            "The remote cluster has been selected through the ClusterSelector field",
        )  # fmt: skip
    return Condition(
        NAMESPACE_CONDITION_OFFLOADING_REQUIRED, "False", "ClusterNotSelected",
        "The remote cluster has not been selected through the ClusterSelector field",
    )  # fmt: skip


def ready_condition(phase: str) -> Condition:
    """``Ready``: the twin namespace's state as the provider reports it."""
    if phase == ACCEPTED:
        return Condition(
            NAMESPACE_CONDITION_READY, "True", "NamespaceCreated",
            "Namespace correctly offloaded to the remote cluster",
        )  # fmt: skip
    if phase == CREATION_LOOP_BACK_OFF:
        return Condition(
            NAMESPACE_CONDITION_READY, "False", "CreationLoopBackOff",
            "Some problems occurred during remote namespace creation",
        )  # fmt: skip
    if phase == MAPPING_TERMINATING:
        return Condition(
            NAMESPACE_CONDITION_READY, "False", "Terminating",
            "The remote namespace is being deleted",
        )  # fmt: skip
    return Condition(
        NAMESPACE_CONDITION_READY, "False", "Creating", "The remote namespace is being created"
    )


@dataclass(frozen=True)
class PeerMapping:
    """What one peer's NamespaceMap says about the namespace."""

    required: bool
    #: ``status.currentMapping[<ns>].phase`` ("" when the provider reports nothing).
    phase: str


def peer_mapping(namespace_map: Mapping[str, Any], namespace: str) -> PeerMapping:
    """The namespace's entries in ``namespace_map``."""
    desired = ((namespace_map.get("spec") or {}).get("desiredMapping")) or {}
    current = ((namespace_map.get("status") or {}).get("currentMapping")) or {}
    entry = current.get(namespace) or {}
    return PeerMapping(namespace in desired, str(entry.get("phase") or ""))


def _timed(condition: Condition, previous: Sequence[Mapping[str, Any]], now: str) -> JSONObject:
    for old in previous:
        if (
            old.get("type") == condition.type
            and old.get("status") == condition.status
            and old.get("reason") == condition.reason
            and old.get("lastTransitionTime")
        ):
            stamp = str(old["lastTransitionTime"])
            break
    else:
        stamp = now
    return {
        "type": condition.type,
        "status": condition.status,
        "lastTransitionTime": stamp,
        "reason": condition.reason,
        "message": condition.message,
    }


def remote_conditions(
    peers: Mapping[str, PeerMapping],
    previous: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    deleting: bool,
    now: str,
) -> dict[str, list[JSONObject]]:
    """``status.remoteNamespacesConditions`` for the peers that have a NamespaceMap."""
    result: dict[str, list[JSONObject]] = {}
    for cluster, peer in sorted(peers.items()):
        if deleting and not peer.required and not peer.phase:
            continue
        wanted = [required_condition(peer.required)]
        if peer.required or peer.phase:
            wanted.append(ready_condition(peer.phase))
        old = previous.get(cluster) or []
        result[cluster] = [_timed(c, old, now) for c in wanted]
    return result


def phase(peers: Mapping[str, PeerMapping], *, deleting: bool) -> str:
    """``status.offloadingPhase``."""
    if deleting:
        return TERMINATING
    required = sum(1 for p in peers.values() if p.required)
    ready = sum(1 for p in peers.values() if p.phase == ACCEPTED)
    failed = sum(1 for p in peers.values() if p.phase == CREATION_LOOP_BACK_OFF)
    if required == 0:
        return NO_CLUSTER_SELECTED
    if ready == required:
        return READY
    if failed == required:
        return ALL_FAILED
    if failed > 0:
        return SOME_FAILED
    return IN_PROGRESS


def offloading_status(
    current: Mapping[str, Any] | None,
    peers: Mapping[str, PeerMapping],
    *,
    remote_name: str,
    generation: int | None,
    deleting: bool,
    now: str,
) -> JSONObject:
    """The whole status the NamespaceOffloading should have (``current``: its status)."""
    previous = (current or {}).get("remoteNamespacesConditions") or {}
    status: JSONObject = {
        "remoteNamespaceName": remote_name,
        "offloadingPhase": phase(peers, deleting=deleting),
        "remoteNamespacesConditions": remote_conditions(
            peers, previous, deleting=deleting, now=now
        ),
    }
    if generation is not None:
        status["observedGeneration"] = generation
    return status


def unmapped(peers: Mapping[str, PeerMapping]) -> bool:
    """Whether no peer requires or reports the namespace any more (deletion may end)."""
    return all(not p.required and not p.phase for p in peers.values())
