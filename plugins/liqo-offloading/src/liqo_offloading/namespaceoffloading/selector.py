"""``spec.clusterSelector`` (a core NodeSelector) against the virtual nodes of each peer.

As upstream (``MatchVirtualNodeSelectorTerms`` over ``ForgeFakeNodeFromVirtualNode``): a
VirtualNode is matched through the labels of its Node when the virtual kubelet registered
one (a Node named like it, labelled with its cluster), else through the labels that Node
would have: ``spec.labels``, ``liqo.io/remote-cluster-id``, ``liqo.io/type=virtual-node``
and ``storage.liqo.io/available`` (upstream's stand-in omits the type label and inverts the
storage one; here both agree with the Node the virtual kubelet registers). An empty selector
selects every VirtualNode; terms are ORed, the requirements of a term ANDed, and a term
without requirements matches nothing (Kubernetes' ``MatchNodeSelectorTerms``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from liqo_core.api.consts import (
    REMOTE_CLUSTER_ID_LABEL,
    STORAGE_AVAILABLE_LABEL,
    TYPE_LABEL,
    TYPE_VIRTUAL_NODE,
)
from liqo_core.kube.selectors import requirement_matches

JSONObject = dict[str, Any]

SET_OPERATORS = ("In", "NotIn")
EXISTENCE_OPERATORS = ("Exists", "DoesNotExist")
NUMERIC_OPERATORS = ("Gt", "Lt")
#: The only field a NodeSelector may match (``matchFields``).
NODE_NAME_FIELD = "metadata.name"


def terms_of(selector: Mapping[str, Any] | None) -> list[JSONObject]:
    """The selector's ``nodeSelectorTerms`` (none: the selector is empty)."""
    return [dict(term or {}) for term in (selector or {}).get("nodeSelectorTerms") or []]


def _requirement_problems(where: str, requirement: Mapping[str, Any], field: bool) -> list[str]:
    key = requirement.get("key")
    operator = requirement.get("operator")
    values = requirement.get("values") or []
    if not key:
        return [f"{where}.key: Required value"]
    if field:
        if key != NODE_NAME_FIELD:
            return [
                f"{where}.key: Unsupported value: {key!r}: supported values: {NODE_NAME_FIELD!r}"
            ]
        if operator not in SET_OPERATORS:
            return [f"{where}.operator: Unsupported value: {operator!r}: use In or NotIn"]
        if len(values) != 1:
            return [f"{where}.values: must have one element"]
        return []
    if operator in SET_OPERATORS:
        return (
            [] if values else [f"{where}.values: Required value: must be specified for {operator}"]
        )
    if operator in EXISTENCE_OPERATORS:
        return [f"{where}.values: Forbidden: may not be specified for {operator}"] if values else []
    if operator in NUMERIC_OPERATORS:
        if len(values) != 1 or not _is_int(values[0]):
            return [f"{where}.values: must be a single integer for {operator}"]
        return []
    supported = ", ".join(SET_OPERATORS + EXISTENCE_OPERATORS + NUMERIC_OPERATORS)
    return [f"{where}.operator: Unsupported value: {operator!r}: supported values: {supported}"]


def _is_int(value: object) -> bool:
    try:
        int(str(value))
    except ValueError:
        return False
    return True


def selector_problems(
    selector: Mapping[str, Any] | None, where: str = "spec.clusterSelector"
) -> list[str]:
    """Why ``selector`` is not a valid NodeSelector (empty: it is one)."""
    problems: list[str] = []
    for i, term in enumerate(terms_of(selector)):
        for kind, field in (("matchExpressions", False), ("matchFields", True)):
            for j, requirement in enumerate(term.get(kind) or []):
                path = f"{where}.nodeSelectorTerms[{i}].{kind}[{j}]"
                problems += _requirement_problems(path, requirement or {}, field)
    return problems


def term_matches(term: Mapping[str, Any], labels: Mapping[str, str], name: str) -> bool:
    """Whether every requirement of ``term`` holds for a node with ``labels`` and ``name``
    (an empty term matches nothing)."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    return all(requirement_matches(r, labels.get(str(r.get("key")))) for r in expressions) and all(
        requirement_matches(r, name if r.get("key") == NODE_NAME_FIELD else None) for r in fields
    )


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str], name: str) -> bool:
    """Whether ``selector`` selects a node with ``labels`` named ``name`` (an empty
    selector selects everything)."""
    terms = terms_of(selector)
    return not terms or any(term_matches(term, labels, name) for term in terms)


def virtual_node_labels(vn: Mapping[str, Any], node: Mapping[str, Any] | None) -> dict[str, str]:
    """The labels the clusterSelector is matched against for VirtualNode ``vn``: those of
    its ``node`` when registered, else the ones that Node would carry."""
    if node is not None:
        return dict((node.get("metadata") or {}).get("labels") or {})
    spec = vn.get("spec") or {}
    labels = {str(k): str(v) for k, v in (spec.get("labels") or {}).items()}
    labels[REMOTE_CLUSTER_ID_LABEL] = str(spec.get("clusterID") or "")
    labels[TYPE_LABEL] = TYPE_VIRTUAL_NODE
    labels[STORAGE_AVAILABLE_LABEL] = "true" if spec.get("storageClasses") else "false"
    return labels


def selected_clusters(
    selector: Mapping[str, Any] | None,
    virtual_nodes: Iterable[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
) -> tuple[set[str], set[str]]:
    """``(selected, peers)``: the cluster ids with a VirtualNode ``selector`` matches, and
    every cluster id with a VirtualNode. A peer is selected when any of its VirtualNodes
    matches (upstream lets the last one listed decide).

    :param nodes: Registered virtual Nodes by name.
    """
    selected: set[str] = set()
    peers: set[str] = set()
    for vn in virtual_nodes:
        spec = vn.get("spec") or {}
        cluster = str(spec.get("clusterID") or "")
        if not cluster:
            continue
        peers.add(cluster)
        name = str((vn.get("metadata") or {}).get("name") or "")
        node = nodes.get(name)
        node_cluster = ((node or {}).get("metadata") or {}).get("labels") or {}
        if node is not None and node_cluster.get(REMOTE_CLUSTER_ID_LABEL) != cluster:
            node = None  # a Node of that name, but not this VirtualNode's
        if matches(selector, virtual_node_labels(vn, node), name):
            selected.add(cluster)
    return selected, peers


def describe(problems: Sequence[str]) -> str:
    """The problems of an invalid selector, on one line."""
    return "; ".join(problems)
