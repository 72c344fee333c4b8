"""RBAC authorization, evaluated as Kubernetes' RBAC authorizer does.

ClusterRoleBindings are visited first, then the RoleBindings of the request namespace. A
RoleBinding may reference a ClusterRole; its rules then apply in the binding's namespace
only. ``system:masters`` is allowed everything (Kubernetes' privileged-group authorizer).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..types import JSON, InternalAPI, RequestAttributes, UserInfo
from .authn import sa_username

RBAC_GROUP = "rbac.authorization.k8s.io"
MASTERS = "system:masters"


def _has(items: Any, value: str) -> bool:
    return isinstance(items, list) and ("*" in items or value in items)


def resource_matches(rule: Mapping[str, Any], resource: str, subresource: str) -> bool:
    """``resources`` matching, including ``res/sub``, ``*`` and ``*/sub`` forms."""
    combined = f"{resource}/{subresource}" if subresource else resource
    for item in rule.get("resources") or []:
        if item in ("*", combined):
            return True
        if subresource and item == f"*/{subresource}":
            return True
    return False


def non_resource_url_matches(rule: Mapping[str, Any], path: str) -> bool:
    """``nonResourceURLs`` matching: exact, ``*``, or a prefix ending in ``*``."""
    for url in rule.get("nonResourceURLs") or []:
        if url in ("*", path) or (url.endswith("*") and path.startswith(url[:-1])):
            return True
    return False


def rule_allows(attrs: RequestAttributes, rule: Mapping[str, Any]) -> bool:
    """Whether one PolicyRule allows the request."""
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        return non_resource_url_matches(rule, attrs.path)
    names = rule.get("resourceNames") or []
    return (
        _has(rule.get("apiGroups"), attrs.api_group)
        and resource_matches(rule, attrs.resource, attrs.subresource)
        and (not names or attrs.name in names)
    )


def subject_matches(subject: Mapping[str, Any], user: UserInfo, binding_ns: str) -> bool:
    """Whether a binding subject (User, Group, ServiceAccount) designates ``user``."""
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return bool(user.name == name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return user.name == sa_username(ns, name)
    return False


def describe_subject(subject: Mapping[str, Any], binding_ns: str) -> str:
    """``User "x"`` / ``ServiceAccount "ns:n"``, as RBAC's allow reasons spell them."""
    if subject.get("kind") == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return f'ServiceAccount "{subject.get("name")}/{ns}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


@dataclass(frozen=True)
class BoundRules:
    """The rules granted to a user by one binding."""

    binding: str  # 'ClusterRoleBinding "x"' or 'RoleBinding "x/ns"'
    role: str  # 'ClusterRole "y"' or 'Role "y"'
    subject: str
    rules: list[JSON]


class RBACAuthorizer:
    """Decides requests from the RBAC objects read through ``api``."""

    def __init__(self, api: InternalAPI) -> None:
        self.api = api

    def role_rules(self, ref: Mapping[str, Any], binding_ns: str) -> list[JSON]:
        """Rules of the role a binding in ``binding_ns`` references; LookupError if missing."""
        kind, name = ref.get("kind"), ref.get("name", "")
        if kind == "ClusterRole":
            role = self.api.get(RBAC_GROUP, "clusterroles", "", name)
            if role is None:
                raise LookupError(f'clusterrole.rbac.authorization.k8s.io "{name}" not found')
        elif kind == "Role":
            role = self.api.get(RBAC_GROUP, "roles", binding_ns, name)
            if role is None:
                raise LookupError(f'role.rbac.authorization.k8s.io "{name}" not found')
        else:
            raise LookupError(f"unsupported role reference kind: {kind!r}")
        return list(role.get("rules") or [])

    def bound_rules(
        self, user: UserInfo, namespace: str, errors: list[str]
    ) -> Iterator[BoundRules]:
        """Rules applying to ``user`` in ``namespace`` ("" = cluster scope), binding by binding.

        Dangling role references are appended to ``errors`` as Kubernetes reports them.
        """
        sources: list[tuple[str, list[JSON]]] = [
            ("", self.api.list(RBAC_GROUP, "clusterrolebindings"))
        ]
        if namespace:
            sources.append((namespace, self.api.list(RBAC_GROUP, "rolebindings", namespace)))
        for ns, bindings in sources:
            for binding in sorted(bindings, key=lambda b: str(b["metadata"]["name"])):
                subject = next(
                    (s for s in binding.get("subjects") or [] if subject_matches(s, user, ns)),
                    None,
                )
                if subject is None:
                    continue
                ref = binding.get("roleRef") or {}
                try:
                    rules = self.role_rules(ref, ns)
                except LookupError as exc:
                    errors.append(str(exc))
                    continue
                bname = binding["metadata"]["name"]
                yield BoundRules(
                    f'RoleBinding "{bname}/{ns}"' if ns else f'ClusterRoleBinding "{bname}"',
                    f'{ref.get("kind")} "{ref.get("name")}"',
                    describe_subject(subject, ns),
                    rules,
                )

    def decide(self, attrs: RequestAttributes) -> tuple[bool, str]:
        """(allowed, reason) — the reason as a SubjectAccessReview reports it."""
        if MASTERS in attrs.user.groups:
            return True, ""
        errors: list[str] = []
        for bound in self.bound_rules(attrs.user, attrs.namespace, errors):
            if any(rule_allows(attrs, rule) for rule in bound.rules):
                return True, (
                    f"RBAC: allowed by {bound.binding} of {bound.role} to {bound.subject}"
                )
        return False, f"RBAC: {_format_errors(errors)}" if errors else ""

    def authorize(self, attrs: RequestAttributes) -> tuple[bool, str]:
        """(allowed, message); when denied the message is the 403 Status message."""
        allowed, reason = self.decide(attrs)
        return (True, reason) if allowed else (False, forbidden_message(attrs, reason))


def _format_errors(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def forbidden_message(attrs: RequestAttributes, reason: str = "") -> str:
    """The message of the 403 Status kube-apiserver sends for a denied request."""
    user = attrs.user.name
    if not attrs.resource_request:
        msg = f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    else:
        res = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        where = (
            f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
        )
        msg = (
            f'User "{user}" cannot {attrs.verb} resource "{res}" '
            f'in API group "{attrs.api_group}" {where}'
        )
    if reason:
        msg = f"{msg}: {reason}"
    if not attrs.resource_request or not attrs.resource:
        return f"forbidden: {msg}"
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    if attrs.name:
        return f'{qualified} "{attrs.name}" is forbidden: {msg}'
    return f"{qualified} is forbidden: {msg}"
