"""Pure rules of the namespace-offloading webhooks: the pod policy and the
NamespaceOffloading checks (upstream ``pkg/webhooks/pod`` and ``namespaceoffloading``).

Pod policy, by ``spec.podOffloadingStrategy`` of the namespace's NamespaceOffloading:

- ``Local``: the pod is left alone (taints keep it off virtual nodes);
- ``Remote``: toleration ``virtual-node.liqo.io/not-allowed`` (Exists, NoExecute); required
  node affinity = each clusterSelector term AND ``liqo.io/type In [virtual-node]`` (that
  single requirement when the selector is empty);
- ``LocalAndRemote``: the toleration; with a clusterSelector, its terms OR
  ``liqo.io/type NotIn [virtual-node]`` (local nodes stay eligible);
- the imposed terms are combined with the pod's own required terms (each pod term AND
  each imposed term); the pod's other affinities are kept;
- pods whose ``runtimeClassName`` is the Liqo RuntimeClass are left alone: the
  RuntimeClass itself pins them to virtual nodes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from liqo_core.api.consts import TYPE_LABEL, TYPE_VIRTUAL_NODE, VIRTUAL_NODE_TAINT_KEY
from liqo_core.kube.names import dns1123_label_problems
from liqo_offloading.namespaceoffloading import naming
from liqo_offloading.namespaceoffloading.selector import selector_problems, terms_of

JSONObject = dict[str, Any]

#: The one name a NamespaceOffloading may have (upstream ``DefaultNamespaceOffloadingName``).
OFFLOADING_NAME: Final = "offloading"
LOCAL: Final = "Local"
REMOTE: Final = "Remote"
LOCAL_AND_REMOTE: Final = "LocalAndRemote"
POD_STRATEGIES: Final = (LOCAL_AND_REMOTE, REMOTE, LOCAL)

VIRTUAL_NODE_TOLERATION: Final[Mapping[str, str]] = {
    "key": VIRTUAL_NODE_TAINT_KEY,
    "operator": "Exists",
    "effect": "NoExecute",
}
ON_VIRTUAL_NODES: Final[Mapping[str, Any]] = {
    "key": TYPE_LABEL,
    "operator": "In",
    "values": [TYPE_VIRTUAL_NODE],
}
OFF_VIRTUAL_NODES: Final[Mapping[str, Any]] = {
    "key": TYPE_LABEL,
    "operator": "NotIn",
    "values": [TYPE_VIRTUAL_NODE],
}
STRICTER_WARNING: Final = (
    "spec.podOffloadingStrategy changed to a more restrictive setting: existing pods "
    "violating the new policy keep running until they are recreated"
)


class PolicyError(ValueError):
    """The NamespaceOffloading asks for a pod policy that does not exist."""


def spec_of(obj: Mapping[str, Any] | None) -> JSONObject:
    """``obj.spec`` (empty when absent)."""
    return dict((obj or {}).get("spec") or {})


def pod_strategy(spec: Mapping[str, Any]) -> str:
    """``spec.podOffloadingStrategy``, defaulted as the CRD does."""
    return str(spec.get("podOffloadingStrategy") or LOCAL_AND_REMOTE)


def imposed_node_selector(
    strategy: str, cluster_selector: Mapping[str, Any] | None
) -> JSONObject | None:
    """The required node affinity ``strategy`` imposes (None: no constraint).

    :raises PolicyError: ``strategy`` is not Local, Remote or LocalAndRemote.
    """
    terms = copy.deepcopy(terms_of(cluster_selector))
    if strategy == REMOTE:
        for term in terms or [{}]:
            term.setdefault("matchExpressions", []).append(dict(ON_VIRTUAL_NODES))
        return {"nodeSelectorTerms": terms or [{"matchExpressions": [dict(ON_VIRTUAL_NODES)]}]}
    if strategy == LOCAL_AND_REMOTE:
        if not terms:
            return None
        return {"nodeSelectorTerms": [*terms, {"matchExpressions": [dict(OFF_VIRTUAL_NODES)]}]}
    if strategy == LOCAL:
        return None
    raise PolicyError(f"unknown podOffloadingStrategy {strategy!r}")


def merge_node_selectors(own: Mapping[str, Any], imposed: Mapping[str, Any]) -> JSONObject:
    """Both selectors must hold: ``(A or B) and (C or D)`` gives ``A+C or A+D or B+C or
    B+D`` (upstream ``MergeNodeSelector``; the pod's ``matchFields`` are kept too)."""
    merged: list[JSONObject] = []
    for mine in terms_of(own):
        for theirs in terms_of(imposed):
            term: JSONObject = {
                "matchExpressions": [
                    *copy.deepcopy(mine.get("matchExpressions") or []),
                    *copy.deepcopy(theirs.get("matchExpressions") or []),
                ]
            }
            fields = [*(mine.get("matchFields") or []), *(theirs.get("matchFields") or [])]
            if fields:
                term["matchFields"] = copy.deepcopy(fields)
            merged.append(term)
    return {"nodeSelectorTerms": merged}


def with_node_selector(
    affinity: Mapping[str, Any] | None, imposed: Mapping[str, Any]
) -> JSONObject:
    """``affinity`` whose required node affinity also satisfies ``imposed``."""
    result = copy.deepcopy(dict(affinity or {}))
    node_affinity = dict(result.get("nodeAffinity") or {})
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required and terms_of(required):
        node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = merge_node_selectors(
            required, imposed
        )
    else:
        node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = copy.deepcopy(
            dict(imposed)
        )
    result["nodeAffinity"] = node_affinity
    return result


def pod_mutation(
    pod_spec: Mapping[str, Any], offloading_spec: Mapping[str, Any], runtime_class: str
) -> JSONObject:
    """The ``spec`` fields to set on a new pod of an offloaded namespace (empty: none).

    :raises PolicyError: The NamespaceOffloading's pod strategy is unknown.
    """
    strategy = pod_strategy(offloading_spec)
    if strategy == LOCAL:
        return {}
    if pod_spec.get("runtimeClassName") == runtime_class:
        return {}
    imposed = imposed_node_selector(strategy, offloading_spec.get("clusterSelector"))
    tolerations = [dict(t) for t in pod_spec.get("tolerations") or []]
    changes: JSONObject = {}
    if dict(VIRTUAL_NODE_TOLERATION) not in tolerations:
        changes["tolerations"] = [*tolerations, dict(VIRTUAL_NODE_TOLERATION)]
    if imposed is not None:
        changes["affinity"] = with_node_selector(pod_spec.get("affinity"), imposed)
    return changes


# --- NamespaceOffloading admission ---------------------------------------------------------


def _name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def offloading_problems(
    operation: str, old: Mapping[str, Any] | None, new: Mapping[str, Any]
) -> list[str]:
    """Why the NamespaceOffloading ``new`` may not be created or become ``new`` (empty:
    admitted)."""
    if _name_of(new) != OFFLOADING_NAME:
        return [
            f"metadata.name: a NamespaceOffloading must be named {OFFLOADING_NAME!r}, "
            f"not {_name_of(new)!r}"
        ]
    spec = spec_of(new)
    problems: list[str] = []
    remote = spec.get("remoteNamespaceName") or ""
    if operation == "UPDATE" and old is not None:
        before = spec_of(old)
        if naming.mapping_strategy(before) != naming.mapping_strategy(spec):
            problems.append(
                "spec.namespaceMappingStrategy: cannot be changed after creation "
                f"(is {naming.mapping_strategy(before)}): delete and recreate the "
                "NamespaceOffloading"
            )
        if (before.get("remoteNamespaceName") or "") != remote:
            problems.append("spec.remoteNamespaceName: cannot be changed after creation")
    elif naming.mapping_strategy(spec) == naming.SELECTED_NAME and not remote:
        problems.append(
            "spec.remoteNamespaceName: Required value: the SelectedName "
            "namespaceMappingStrategy needs the name of the remote namespace"
        )
    if remote and operation != "UPDATE":
        for problem in dns1123_label_problems(str(remote)):
            problems.append(f"spec.remoteNamespaceName: {remote!r}: {problem}")
    if pod_strategy(spec) not in POD_STRATEGIES:
        problems.append(
            f"spec.podOffloadingStrategy: Unsupported value: {pod_strategy(spec)!r}: "
            f"supported values: {', '.join(POD_STRATEGIES)}"
        )
    problems += selector_problems(spec.get("clusterSelector"))
    return problems


def offloading_warnings(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """Warnings for an admitted update: a pod strategy that got stricter (upstream: any
    change to something other than LocalAndRemote)."""
    if old is None:
        return []
    stricter_now = stricter(pod_strategy(spec_of(old)), pod_strategy(spec_of(new)))
    return [STRICTER_WARNING] if stricter_now else []


def stricter(before: str | None, after: str) -> bool:
    """Whether a pod strategy change from ``before`` to ``after`` is more restrictive."""
    return bool(before) and after not in (LOCAL_AND_REMOTE, before)


def missing_offloading_message(namespace: str) -> str:
    """Why a pod of a namespace labelled for scheduling but without NamespaceOffloading
    is refused."""
    return (
        f"namespace {namespace} is labelled liqo.io/scheduling-enabled=true but has no "
        f"NamespaceOffloading {OFFLOADING_NAME!r}: create it or remove the label"
    )
