"""Scheduling predicates of kube-scheduler's default profile, on plain JSON objects.

Filters: NodeUnschedulable, NodeName, NodeAffinity (nodeSelector and required node
affinity), TaintToleration (NoSchedule and NoExecute) and NodeResourcesFit (cpu, memory,
pods, ephemeral-storage and extended resources against ``status.allocatable``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from liqo_core.kube.quantity import parse_quantity
from liqo_core.kube.selectors import requirement_matches

JSON = dict[str, Any]

REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_NODE_NAME = "node(s) didn't match the requested node name"


def node_labels(node: JSON) -> Mapping[str, str]:
    """The node's labels."""
    labels: Mapping[str, str] = node.get("metadata", {}).get("labels") or {}
    return labels


def match_node_selector_term(term: JSON, node: JSON) -> bool:
    """A NodeSelectorTerm matches when all its expressions and fields match (an empty term
    matches nothing, as in Kubernetes)."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = node_labels(node)
    for expr in expressions:
        if not requirement_matches(expr, labels.get(expr.get("key", ""))):
            return False
    node_fields = {"metadata.name": node.get("metadata", {}).get("name")}
    for expr in fields:
        key = expr.get("key", "")
        if key not in node_fields or expr.get("operator") not in ("In", "NotIn"):
            return False
        if not requirement_matches(expr, node_fields[key]):
            return False
    return True


def matches_node_affinity(pod: JSON, node: JSON) -> bool:
    """nodeSelector and requiredDuringSchedulingIgnoredDuringExecution (terms are ORed)."""
    spec = pod.get("spec", {})
    labels = node_labels(node)
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms")
    if terms is None:
        return True
    return any(match_node_selector_term(term, node) for term in terms)


def tolerates(toleration: JSON, taint: JSON) -> bool:
    """Whether one toleration tolerates one taint (``ToleratesTaint`` semantics)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def untolerated_taint(pod: JSON, node: JSON) -> JSON | None:
    """The first NoSchedule/NoExecute taint of the node the pod does not tolerate."""
    tolerations = pod.get("spec", {}).get("tolerations") or []
    taints: list[JSON] = node.get("spec", {}).get("taints") or []
    for taint in taints:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def _add(total: dict[str, Fraction], resources: Mapping[str, Any]) -> None:
    for name, value in resources.items():
        total[name] = total.get(name, Fraction(0)) + parse_quantity(value)


def pod_requests(pod: JSON) -> dict[str, Fraction]:
    """Effective requests: max(sum of containers, any init container) plus overhead.

    Limits stand in for missing requests, as API defaulting does.
    """
    spec = pod.get("spec", {})
    total: dict[str, Fraction] = {}
    for container in spec.get("containers") or []:
        _add(total, _container_requests(container))
    for container in spec.get("initContainers") or []:
        for name, value in _container_requests(container).items():
            quantity = parse_quantity(value)
            if quantity > total.get(name, Fraction(0)):
                total[name] = quantity
    _add(total, spec.get("overhead") or {})
    return total


def _container_requests(container: JSON) -> dict[str, Any]:
    resources = container.get("resources") or {}
    merged = dict(resources.get("limits") or {})
    merged.update(resources.get("requests") or {})
    return merged


def insufficient_resources(pod: JSON, node: JSON, pods_on_node: Iterable[JSON]) -> list[str]:
    """Names of resources the node lacks for the pod (``pods`` included)."""
    allocatable = node.get("status", {}).get("allocatable") or {}
    used: dict[str, Fraction] = {}
    count = 0
    for other in pods_on_node:
        count += 1
        _add(used, pod_requests(other))
    missing: list[str] = []
    if "pods" in allocatable and count + 1 > parse_quantity(allocatable["pods"]):
        missing.append("pods")
    for name, requested in sorted(pod_requests(pod).items()):
        if requested == 0:
            continue
        available = parse_quantity(allocatable.get(name, 0))
        if used.get(name, Fraction(0)) + requested > available:
            missing.append(name)
    return missing


def filter_node(pod: JSON, node: JSON, pods_on_node: Iterable[JSON]) -> list[str]:
    """Reasons why the pod cannot go to the node, as kube-scheduler words them; [] if it fits."""
    spec = node.get("spec", {})
    if spec.get("unschedulable"):
        unschedulable_taint = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
        tolerations = pod.get("spec", {}).get("tolerations") or []
        if not any(tolerates(t, unschedulable_taint) for t in tolerations):
            return [REASON_UNSCHEDULABLE]
    wanted = pod.get("spec", {}).get("nodeName")
    if wanted and wanted != node.get("metadata", {}).get("name"):
        return [REASON_NODE_NAME]
    if not matches_node_affinity(pod, node):
        return [REASON_AFFINITY]
    taint = untolerated_taint(pod, node)
    if taint is not None:
        return [f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"]
    return [f"Insufficient {name}" for name in insufficient_resources(pod, node, pods_on_node)]


def unschedulable_message(node_count: int, reasons: Counter[str]) -> str:
    """The PodScheduled=False message, e.g. ``0/2 nodes are available: 1 Insufficient cpu, ...``."""
    if node_count == 0:
        return "no nodes available to schedule pods"
    parts = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    return (
        f"0/{node_count} nodes are available: {parts}. preemption: 0/{node_count} nodes are "
        f"available: {node_count} Preemption is not helpful for scheduling."
    )


def score_node(pod: JSON, node: JSON, pods_on_node: Iterable[JSON]) -> float:
    """LeastAllocated score (higher is better): mean free fraction of cpu, memory and pods."""
    allocatable = node.get("status", {}).get("allocatable") or {}
    used: dict[str, Fraction] = {}
    count = 1
    _add(used, pod_requests(pod))
    for other in pods_on_node:
        count += 1
        _add(used, pod_requests(other))
    used["pods"] = Fraction(count)
    scores: list[float] = []
    for name in ("cpu", "memory", "pods"):
        capacity = parse_quantity(allocatable.get(name, 0))
        if capacity > 0:
            scores.append(float(max(Fraction(0), 1 - used.get(name, Fraction(0)) / capacity)))
    return sum(scores) / len(scores) if scores else 0.0


def pod_is_terminal(pod: JSON) -> bool:
    """Succeeded or Failed pods no longer hold node resources."""
    return pod.get("status", {}).get("phase") in ("Succeeded", "Failed")


def daemonset_tolerations() -> list[JSON]:
    """Tolerations the DaemonSet controller adds to every daemon pod."""
    keys_effects = [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ]
    return [{"key": k, "operator": "Exists", "effect": e} for k, e in keys_effects]
