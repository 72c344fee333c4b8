"""RBAC privilege-escalation prevention on Role/ClusterRole/(Cluster)RoleBinding writes.

As Kubernetes: a user may create or update a role only with permissions it already holds
(or with the ``escalate`` verb on it), and bind a role only if it holds the role's
permissions (or has the ``bind`` verb on it). ``system:masters`` is exempt. Refusals are
403s with Kubernetes' message listing the missing rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..types import JSON, AdmissionAttributes, AdmissionDenied, RequestAttributes, UserInfo
from .rbac import MASTERS, RBAC_GROUP, RBACAuthorizer

ROLE_RESOURCES = {"roles": "Role", "clusterroles": "ClusterRole"}
BINDING_RESOURCES = {"rolebindings", "clusterrolebindings"}


def breakdown(rule: Mapping[str, Any]) -> list[JSON]:
    """One rule per (group, resource, verb[, name]) or (URL, verb), as Kubernetes."""
    out: list[JSON] = []
    verbs = rule.get("verbs") or []
    names = rule.get("resourceNames") or []
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in verbs:
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                if names:
                    out += [{**base, "resourceNames": [n]} for n in names]
                else:
                    out.append(base)
    for url in rule.get("nonResourceURLs") or []:
        out += [{"nonResourceURLs": [url], "verbs": [verb]} for verb in verbs]
    return out


def _has_all(owner: list[str], wanted: list[str]) -> bool:
    return all(w in owner for w in wanted)


def _resources_cover(owner: list[str], wanted: list[str]) -> bool:
    if "*" in owner or _has_all(owner, wanted):
        return True
    for path in wanted:
        if path in owner:
            continue
        if "/" not in path or "*/" + path.split("/", 1)[1] not in owner:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def rule_covers(owner: Mapping[str, Any], sub: Mapping[str, Any]) -> bool:
    """Whether ``owner`` grants everything the atomic rule ``sub`` does."""
    o_verbs, o_groups = owner.get("verbs") or [], owner.get("apiGroups") or []
    o_names = owner.get("resourceNames") or []
    s_names = sub.get("resourceNames") or []
    names_ok = not o_names or (bool(s_names) and _has_all(o_names, s_names))
    urls_ok = all(
        any(_url_covers(o, p) for o in owner.get("nonResourceURLs") or [])
        for p in sub.get("nonResourceURLs") or []
    )
    return (
        ("*" in o_verbs or _has_all(o_verbs, sub.get("verbs") or []))
        and ("*" in o_groups or _has_all(o_groups, sub.get("apiGroups") or []))
        and _resources_cover(owner.get("resources") or [], sub.get("resources") or [])
        and names_ok
        and urls_ok
    )


def missing_rules(owner_rules: list[JSON], rules: list[JSON]) -> list[JSON]:
    """The atomic rules of ``rules`` that no owner rule covers."""
    return [
        sub
        for rule in rules
        for sub in breakdown(rule)
        if not any(rule_covers(o, sub) for o in owner_rules)
    ]


def _compact(rules: list[JSON]) -> list[JSON]:
    simple: dict[tuple[str, str, tuple[str, ...]], JSON] = {}
    out: list[JSON] = []
    for rule in rules:
        if rule.get("resources"):
            key = (rule["apiGroups"][0], rule["resources"][0], tuple(rule.get("resourceNames", [])))
            if key in simple:
                simple[key]["verbs"] = simple[key]["verbs"] + rule["verbs"]
                continue
            simple[key] = dict(rule)
        else:
            out.append(rule)
    return out + list(simple.values())


def _go_quote(items: list[str]) -> str:
    return "[" + " ".join('"' + i.replace('"', '\\"') + '"' for i in items) + "]"


def compact_string(rule: Mapping[str, Any]) -> str:
    """A rule as Kubernetes prints it in escalation errors."""
    parts = [
        f"{label}:{_go_quote(rule[key])}"
        for label, key in (
            ("APIGroups", "apiGroups"),
            ("Resources", "resources"),
            ("NonResourceURLs", "nonResourceURLs"),
            ("ResourceNames", "resourceNames"),
            ("Verbs", "verbs"),
        )
        if rule.get(key)
    ]
    return "{" + ", ".join(parts) + "}"


def escalation_message(user: UserInfo, missing: list[JSON]) -> str:
    """``user "x" (groups=[...]) is attempting to grant RBAC permissions not currently held``."""
    lines = sorted({compact_string(r) for r in _compact(missing)})
    return (
        f'user "{user.name}" (groups={_go_quote(list(user.groups))}) is attempting to grant '
        "RBAC permissions not currently held:\n" + "\n".join(lines)
    )


def _forbidden(resource: str, name: str, message: str) -> AdmissionDenied:
    return AdmissionDenied(
        403,
        "Forbidden",
        f'{resource}.{RBAC_GROUP} "{name}" is forbidden: {message}',
        {"name": name, "group": RBAC_GROUP, "kind": resource},
    )


class EscalationCheck:
    """The checks of Kubernetes' RBAC storage on role and binding writes."""

    def __init__(self, rbac: RBACAuthorizer) -> None:
        self.rbac = rbac

    def _allowed(self, user: UserInfo, verb: str, resource: str, name: str, ns: str) -> bool:
        attrs = RequestAttributes(
            user=user,
            verb=verb,
            resource_request=True,
            api_group=RBAC_GROUP,
            api_version="v1",
            resource=resource,
            namespace=ns,
            name=name,
        )
        return self.rbac.decide(attrs)[0]

    def _owner_rules(self, user: UserInfo, namespace: str) -> list[JSON]:
        return [r for b in self.rbac.bound_rules(user, namespace, []) for r in b.rules]

    def check(self, attrs: AdmissionAttributes, obj: Mapping[str, Any]) -> None:
        """Raise 403 if this create/update of an RBAC object escalates privileges."""
        resource = attrs.resource.resource
        if attrs.resource.group != RBAC_GROUP or attrs.operation not in ("CREATE", "UPDATE"):
            return
        if attrs.subresource or MASTERS in attrs.user.groups:
            return
        name = attrs.name or str((obj.get("metadata") or {}).get("name", ""))
        if resource in ROLE_RESOURCES:
            if self._allowed(attrs.user, "escalate", resource, name, attrs.namespace):
                return
            if resource == "clusterroles" and obj.get("aggregationRule"):
                raise _forbidden(
                    resource, name, "must have cluster-admin privileges to use the aggregationRule"
                )
            rules = list(obj.get("rules") or [])
        elif resource in BINDING_RESOURCES:
            ref = obj.get("roleRef") or {}
            ref_resource = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
            ref_name = str(ref.get("name", ""))
            if self._allowed(attrs.user, "bind", ref_resource, ref_name, attrs.namespace):
                return
            try:
                rules = self.rbac.role_rules(ref, attrs.namespace)
            except LookupError as exc:
                raise AdmissionDenied(404, "NotFound", str(exc)) from None
        else:
            return
        missing = missing_rules(self._owner_rules(attrs.user, attrs.namespace), rules)
        if missing:
            raise _forbidden(resource, name, escalation_message(attrs.user, missing))
