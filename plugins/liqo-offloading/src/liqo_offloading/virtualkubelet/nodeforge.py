"""Pure forging of the virtual Node (upstream ``liqoNodeProvider``): labels, annotations,
taints, status and the Ready rule.

Ready when cpu > 0 and memory > 0 (allocatable = ``spec.resourceQuota.hard`` of the
VirtualNode), and the network is established (or ``--node-check-network=false``, or the
networking module is disabled for the peer, read from the ForeignCluster's
``status.modules.networking`` once its controller reconciled it), and the provider's API
server answers. Memory/Disk/PIDPressure are true while the resources are not ready;
NetworkUnavailable is set only when the network is checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from liqo_core.api.consts import (
    CONDITION_NETWORK_CONNECTION,
    REMOTE_CLUSTER_ID_LABEL,
    STATUS_ESTABLISHED,
    STORAGE_AVAILABLE_LABEL,
    TYPE_LABEL,
    TYPE_VIRTUAL_NODE,
    VIRTUAL_NODE_TAINT_KEY,
)
from liqo_core.kube.quantity import QuantityError, canonical_quantity, parse_quantity
from liqo_offloading.virtualkubelet.options import VirtualKubeletOptions

JSONObject = dict[str, Any]

ARCHITECTURE = "amd64"
OPERATING_SYSTEM = "Linux"
NOT_ALLOWED_TAINT: JSONObject = {
    "key": VIRTUAL_NODE_TAINT_KEY,
    "value": "true",
    "effect": "NoExecute",
}
_SUFFICIENT = "The remote cluster is advertising sufficient resources"
_INSUFFICIENT = "The remote cluster is advertising no or insufficient resources"


def base_labels(options: VirtualKubeletOptions) -> dict[str, str]:
    """The labels every virtual Node has, plus ``--node-extra-labels``."""
    labels = {
        "kubernetes.io/hostname": options.node_name,
        "kubernetes.io/role": "agent",
        "kubernetes.io/os": OPERATING_SYSTEM.lower(),
        "kubernetes.io/arch": ARCHITECTURE,
        TYPE_LABEL: TYPE_VIRTUAL_NODE,
        # virtual-kubelet's own label: the cluster autoscaler skips such nodes.
        "type": "virtual-kubelet",
        REMOTE_CLUSTER_ID_LABEL: options.foreign_cluster_id,
        "node.kubernetes.io/exclude-from-external-load-balancers": "true",
        "alpha.service-controller.kubernetes.io/exclude-balancer": "true",
    }
    labels.update(options.node_extra_labels)
    return labels


@dataclass(frozen=True)
class NodeMetadata:
    """What the VirtualNode contributes to the Node's metadata and taints."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    taints: Sequence[JSONObject]


def virtual_node_metadata(vn: Mapping[str, Any] | None) -> NodeMetadata:
    """The VirtualNode's labels (and whether storage is available), annotations and
    taints, plus the taint keeping pods without the toleration away."""
    spec = (vn or {}).get("spec") or {}
    labels = dict(spec.get("labels") or {})
    labels[STORAGE_AVAILABLE_LABEL] = "true" if spec.get("storageClasses") else "false"
    taints = [dict(t) for t in spec.get("taints") or ()]
    taints.append(dict(NOT_ALLOWED_TAINT))
    return NodeMetadata(labels, dict(spec.get("annotations") or {}), taints)


def merge_owned(
    current: Mapping[str, str], previous: Mapping[str, str], desired: Mapping[str, str]
) -> dict[str, str]:
    """``current`` without the keys applied last time, plus ``desired``: the keys others
    set on the Node survive, the ones the VirtualNode dropped go."""
    merged = {k: v for k, v in current.items() if k not in previous}
    merged.update(desired)
    return merged


def _taint_id(taint: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    return taint.get("key"), taint.get("value"), taint.get("effect")


def merge_taints(
    current: Sequence[Mapping[str, Any]],
    previous: Sequence[Mapping[str, Any]],
    desired: Sequence[Mapping[str, Any]],
) -> list[JSONObject]:
    """As :func:`merge_owned`, for taint lists (a taint is its key, value and effect)."""
    dropped = {_taint_id(t) for t in previous} | {_taint_id(t) for t in desired}
    merged = [dict(t) for t in current if _taint_id(t) not in dropped]
    return merged + [dict(t) for t in desired]


def capacity(vn: Mapping[str, Any] | None) -> dict[str, str]:
    """``spec.resourceQuota.hard`` of the VirtualNode, in canonical form (invalid values
    are left out)."""
    hard = (((vn or {}).get("spec") or {}).get("resourceQuota") or {}).get("hard") or {}
    result = {}
    for key, value in hard.items():
        try:
            result[str(key)] = canonical_quantity(value)
        except QuantityError:
            continue
    return result


def resources_ready(allocatable: Mapping[str, str]) -> bool:
    """Whether cpu and memory are both above zero."""
    try:
        return all(parse_quantity(allocatable.get(k, "0")) > 0 for k in ("cpu", "memory"))
    except QuantityError:
        return False


@dataclass(frozen=True)
class NodeHealth:
    """What the Node's conditions are made of.

    :param networking_enabled: The ForeignCluster's ``status.modules.networking.enabled``
        (``None`` until its controller reconciled it: taken as enabled).
    :param api_server_error: Why the provider's API server is unusable (``None``: fine).
    """

    allocatable: Mapping[str, str]
    check_network: bool = True
    networking_enabled: bool | None = None
    network_ready: bool = False
    api_server_error: str | None = None

    @property
    def network_checked(self) -> bool:
        """Whether the network state counts (and NetworkUnavailable is set)."""
        return self.check_network and self.networking_enabled is not False

    @property
    def ready(self) -> bool:
        """The Ready rule."""
        network = self.network_ready or not self.network_checked
        return resources_ready(self.allocatable) and network and self.api_server_error is None


def foreign_cluster_health(fc: Mapping[str, Any] | None) -> tuple[bool | None, bool]:
    """``(networking enabled, network established)`` from a ForeignCluster (upstream
    trusts ``enabled`` only once ``status.observedGeneration`` is set)."""
    status = (fc or {}).get("status") or {}
    networking = (status.get("modules") or {}).get("networking") or {}
    enabled = bool(networking.get("enabled")) if status.get("observedGeneration") else None
    established = any(
        c.get("type") == CONDITION_NETWORK_CONNECTION and c.get("status") == STATUS_ESTABLISHED
        for c in networking.get("conditions") or ()
    )
    return enabled, established


def _condition(kind: str, status: bool, reason: str, message: str) -> JSONObject:
    return {
        "type": kind,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
    }


def desired_conditions(health: NodeHealth) -> list[JSONObject]:
    """The Node conditions (without times)."""
    pressure = not resources_ready(health.allocatable)
    if health.ready:
        ready = _condition("Ready", True, "KubeletReady", "The Liqo virtual kubelet is ready")
    elif health.api_server_error is not None:
        message = f"The remote API server is not reachable: {health.api_server_error}"
        ready = _condition("Ready", False, "KubeletNotReady", message)
    else:
        ready = _condition(
            "Ready", False, "KubeletNotReady", "The Liqo virtual kubelet is not ready"
        )
    conditions = [
        ready,
        _condition(
            "MemoryPressure",
            pressure,
            "RemoteClusterHasMemoryPressure" if pressure else "RemoteClusterHasSufficientMemory",
            _INSUFFICIENT if pressure else _SUFFICIENT,
        ),
        _condition(
            "DiskPressure",
            pressure,
            "RemoteClusterHasDiskPressure" if pressure else "RemoteClusterHasNoDiskPressure",
            _INSUFFICIENT if pressure else _SUFFICIENT,
        ),
        _condition(
            "PIDPressure",
            pressure,
            "RemoteClusterHasPIDPressure" if pressure else "RemoteClusterHasNoPIDPressure",
            _INSUFFICIENT if pressure else _SUFFICIENT,
        ),
    ]
    if health.network_checked:
        down = not health.network_ready
        conditions.append(
            _condition(
                "NetworkUnavailable",
                down,
                "LiqoNetworkingDown" if down else "LiqoNetworkingUp",
                "The Liqo cluster interconnection is down"
                if down
                else "The Liqo cluster interconnection is established",
            )
        )
    return conditions


def stamp_conditions(
    desired: Sequence[JSONObject], previous: Sequence[Mapping[str, Any]], now: str
) -> list[JSONObject]:
    """``desired`` with heartbeat ``now``, keeping a condition's transition time while
    its status does not change."""
    before = {c.get("type"): c for c in previous}
    stamped = []
    for condition in desired:
        old = before.get(condition["type"]) or {}
        changed = old.get("status") != condition["status"]
        since = now if changed or not old.get("lastTransitionTime") else old["lastTransitionTime"]
        stamped.append({**condition, "lastHeartbeatTime": now, "lastTransitionTime": since})
    return stamped


def node_status(
    options: VirtualKubeletOptions,
    vn: Mapping[str, Any] | None,
    health: NodeHealth,
    kubelet_version: str,
) -> JSONObject:
    """The Node's status but the conditions' times (see :func:`stamp_conditions`)."""
    resources = capacity(vn)
    status: JSONObject = {
        "capacity": dict(resources),
        "allocatable": dict(resources),
        "conditions": desired_conditions(health),
        "daemonEndpoints": {"kubeletEndpoint": {"Port": options.listen_port}},
        "nodeInfo": {
            "kubeletVersion": kubelet_version,
            "architecture": ARCHITECTURE,
            "operatingSystem": OPERATING_SYSTEM,
        },
        "images": [dict(i) for i in ((vn or {}).get("spec") or {}).get("images") or ()],
    }
    if options.node_ip:
        status["addresses"] = [{"type": "InternalIP", "address": options.node_ip}]
    return status


def without_times(conditions: Sequence[Mapping[str, Any]]) -> list[JSONObject]:
    """Conditions without their heartbeat and transition times, for comparisons."""
    return [
        {k: v for k, v in c.items() if k not in ("lastHeartbeatTime", "lastTransitionTime")}
        for c in conditions
    ]
