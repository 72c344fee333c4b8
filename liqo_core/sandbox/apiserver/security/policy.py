"""Bootstrap RBAC policy of a fresh cluster and the ClusterRole aggregation controller."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..types import JSON, APIError, InternalAPI
from .loop import Event, control_loop, meta
from .rbac import RBAC_GROUP

log = logging.getLogger(__name__)

_AGG = "rbac.authorization.k8s.io/aggregate-to-"
_RW = ["create", "delete", "deletecollection", "patch", "update"]
_RO = ["get", "list", "watch"]
_DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*"]
_PUBLIC_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> JSON:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _role(name: str, rules: list[JSON], labels: Mapping[str, str] | None = None) -> JSON:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "rules": rules,
    }


def _aggregated(name: str, target: str, labels: Mapping[str, str] | None = None) -> JSON:
    role = _role(name, [], labels)
    role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {_AGG + target: "true"}}]}
    return role


def _binding(name: str, role: str, groups: list[str]) -> JSON:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in groups],
    }


_VIEW_CORE = [
    "configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status",
    "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
    "services", "services/status", "bindings", "events", "limitranges", "namespaces/status",
    "pods/log", "pods/status", "replicationcontrollers/status", "resourcequotas",
    "resourcequotas/status", "namespaces",
]  # fmt: skip
_APPS = [
    "controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
    "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
    "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status",
]  # fmt: skip
_EDIT_CORE = [
    "pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "configmaps",
    "endpoints", "persistentvolumeclaims", "replicationcontrollers",
    "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy",
]  # fmt: skip
_WORKLOAD_GROUPS: list[tuple[list[str], list[str]]] = [
    (["apps"], _APPS),
    (["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    (["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
    (["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    (["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
    (["discovery.k8s.io"], ["endpointslices"]),
]


def bootstrap_cluster_roles() -> list[JSON]:
    """The default ClusterRoles of a fresh Kubernetes cluster that matter to Liqo tests."""
    view = [_rule([""], _VIEW_CORE, _RO)] + [_rule(g, r, _RO) for g, r in _WORKLOAD_GROUPS]
    edit = [
        _rule([""], _EDIT_CORE, _RW),
        _rule([""], ["secrets"], _RO),
        _rule([""], ["serviceaccounts/token"], ["create"]),
        _rule([""], ["serviceaccounts"], ["impersonate"]),
        *[_rule(g, [x for x in r if not x.endswith("/status")], _RW) for g, r in _WORKLOAD_GROUPS],
    ]
    admin = [
        _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
        _rule([RBAC_GROUP], ["rolebindings", "roles"], [*_RW, *_RO]),
    ]
    return [
        _role(
            "cluster-admin",
            [_rule(["*"], ["*"], ["*"]), {"nonResourceURLs": ["*"], "verbs": ["*"]}],
        ),
        _aggregated("admin", "admin"),
        _aggregated("edit", "edit", {_AGG + "admin": "true"}),
        _aggregated("view", "view", {_AGG + "edit": "true"}),
        _role("system:aggregate-to-admin", admin, {_AGG + "admin": "true"}),
        _role("system:aggregate-to-edit", edit, {_AGG + "edit": "true"}),
        _role("system:aggregate-to-view", view, {_AGG + "view": "true"}),
        _role(
            "system:discovery",
            [{"nonResourceURLs": _DISCOVERY_URLS + _PUBLIC_URLS, "verbs": ["get"]}],
        ),
        _role("system:public-info-viewer", [{"nonResourceURLs": _PUBLIC_URLS, "verbs": ["get"]}]),
        _role(
            "system:basic-user",
            [
                _rule(["authorization.k8s.io"], ["selfsubjectaccessreviews"], ["create"]),
                _rule(["authorization.k8s.io"], ["selfsubjectrulesreviews"], ["create"]),
                _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
            ],
        ),
        _role(
            "system:auth-delegator",
            [
                _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
                _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
            ],
        ),
    ]


def bootstrap_cluster_role_bindings() -> list[JSON]:
    """The default ClusterRoleBindings of a fresh cluster."""
    return [
        _binding("cluster-admin", "cluster-admin", ["system:masters"]),
        _binding("system:discovery", "system:discovery", ["system:authenticated"]),
        _binding("system:basic-user", "system:basic-user", ["system:authenticated"]),
        _binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            ["system:authenticated", "system:unauthenticated"],
        ),
    ]


async def bootstrap_policy(api: InternalAPI) -> None:
    """Create the default roles and bindings that do not exist yet (idempotent)."""
    for resource, objs in (
        ("clusterroles", bootstrap_cluster_roles()),
        ("clusterrolebindings", bootstrap_cluster_role_bindings()),
    ):
        for obj in objs:
            if api.get(RBAC_GROUP, resource, "", obj["metadata"]["name"]) is None:
                try:
                    await api.create(RBAC_GROUP, resource, obj)
                except APIError as exc:
                    if exc.code != 409:
                        raise


def labels_match(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy a metav1.LabelSelector (None or {} selects everything)."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def aggregate_rules(role: Mapping[str, Any], roles: list[JSON]) -> list[JSON]:
    """The rules an aggregated ClusterRole gets: those of the roles its selectors match."""
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    rules: list[JSON] = []
    for other in sorted(roles, key=lambda r: str(meta(r).get("name"))):
        if meta(other).get("name") == meta(role).get("name"):
            continue
        labels = meta(other).get("labels") or {}
        if any(labels_match(sel, labels) for sel in selectors if sel is not None):
            for rule in other.get("rules") or []:
                if rule not in rules:
                    rules.append(rule)
    return rules


async def aggregation_controller(api: InternalAPI) -> None:
    """Keep ``.rules`` of every ClusterRole with an aggregationRule up to date."""

    async def sync(_: Event) -> None:
        roles = api.list(RBAC_GROUP, "clusterroles")
        for role in roles:
            if not role.get("aggregationRule"):
                continue
            rules = aggregate_rules(role, roles)
            if (role.get("rules") or []) != rules:
                await api.update(RBAC_GROUP, "clusterroles", {**role, "rules": rules})

    await control_loop(api, "clusterrole-aggregation", [(RBAC_GROUP, "clusterroles")], sync)
