"""RBAC evaluation of the emulator's security layer, against Kubernetes' rules."""

from __future__ import annotations

from typing import Any

import pytest
from test_security_memapi import MemoryAPI, binding, eventually, role, start, stop

from liqo_core.sandbox.apiserver.security.policy import (
    aggregation_controller,
    bootstrap_policy,
)
from liqo_core.sandbox.apiserver.security.rbac import (
    RBAC_GROUP,
    RBACAuthorizer,
    forbidden_message,
    rule_allows,
)
from liqo_core.sandbox.apiserver.types import RequestAttributes, UserInfo

ALICE = UserInfo("alice", ("dev", "system:authenticated"))


def req(
    verb: str,
    resource: str,
    ns: str = "",
    name: str = "",
    *,
    group: str = "",
    sub: str = "",
    user: UserInfo = ALICE,
) -> RequestAttributes:
    return RequestAttributes(
        user=user,
        verb=verb,
        resource_request=True,
        api_group=group,
        api_version="v1",
        resource=resource,
        subresource=sub,
        namespace=ns,
        name=name,
    )


def path(verb: str, url: str, user: UserInfo = ALICE) -> RequestAttributes:
    return RequestAttributes(user=user, verb=verb, resource_request=False, path=url)


@pytest.mark.parametrize(
    ("rule", "attrs", "allowed"),
    [
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, req("get", "pods"), True),
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, req("list", "pods"), False),
        ({"apiGroups": ["apps"], "resources": ["pods"], "verbs": ["*"]}, req("get", "pods"), False),
        (
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            req("delete", "deployments", group="apps"),
            True,
        ),
        # "*" does not cover subresources only by name: it matches everything, as Kubernetes.
        (
            {"apiGroups": [""], "resources": ["*"], "verbs": ["get"]},
            req("get", "pods", sub="log"),
            True,
        ),
        (
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
            req("get", "pods", sub="log"),
            False,
        ),
        (
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
            req("get", "pods", sub="log"),
            True,
        ),
        (
            {"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["update"]},
            req("update", "deployments", group="apps", sub="scale"),
            True,
        ),
        (
            {"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["update"]},
            req("update", "deployments", group="apps"),
            False,
        ),
        # resourceNames restrict named requests, never match list/create without a name.
        (
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"], "verbs": ["*"]},
            req("get", "secrets", name="a"),
            True,
        ),
        (
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"], "verbs": ["*"]},
            req("get", "secrets", name="b"),
            False,
        ),
        (
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"], "verbs": ["*"]},
            req("list", "secrets"),
            False,
        ),
        ({"nonResourceURLs": ["/healthz"], "verbs": ["get"]}, path("get", "/healthz"), True),
        ({"nonResourceURLs": ["/apis/*"], "verbs": ["get"]}, path("get", "/apis/apps/v1"), True),
        ({"nonResourceURLs": ["/apis/*"], "verbs": ["get"]}, path("get", "/api"), False),
        ({"nonResourceURLs": ["/healthz"], "verbs": ["get"]}, path("post", "/healthz"), False),
        # A resource rule never grants a non-resource URL and vice versa.
        ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, path("get", "/healthz"), False),
        ({"nonResourceURLs": ["*"], "verbs": ["*"]}, req("get", "pods"), False),
    ],
)
def test_rule_matching(rule: dict[str, Any], attrs: RequestAttributes, allowed: bool) -> None:
    assert rule_allows(attrs, rule) is allowed


def test_forbidden_messages_are_kubernetes_ones() -> None:
    assert forbidden_message(req("list", "pods", ns="default")) == (
        'pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
        'in the namespace "default"'
    )
    assert forbidden_message(req("list", "nodes")) == (
        'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" '
        "at the cluster scope"
    )
    assert forbidden_message(
        req("get", "deployments", "ns1", "web", group="apps", sub="scale")
    ) == (
        'deployments.apps "web" is forbidden: User "alice" cannot get resource '
        '"deployments/scale" in API group "apps" in the namespace "ns1"'
    )
    assert forbidden_message(path("get", "/metrics")) == (
        'forbidden: User "alice" cannot get path "/metrics"'
    )


async def test_bindings_roles_and_scopes() -> None:
    api = MemoryAPI()
    authz = RBACAuthorizer(api)
    pods_reader = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    await api.create(RBAC_GROUP, "clusterroles", role("ClusterRole", "pod-reader", pods_reader))
    # RoleBinding to a ClusterRole: the rules apply in the binding's namespace only.
    await api.create(
        RBAC_GROUP,
        "rolebindings",
        binding(
            "RoleBinding",
            "read",
            "ClusterRole",
            "pod-reader",
            [{"kind": "User", "name": "alice", "apiGroup": RBAC_GROUP}],
            namespace="team-a",
        ),
    )
    assert authz.authorize(req("list", "pods", "team-a"))[0]
    allowed, message = authz.authorize(req("list", "pods", "team-b"))
    assert not allowed
    assert message == (
        'pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
        'in the namespace "team-b"'
    )
    assert not authz.authorize(req("list", "pods"))[0]  # all namespaces: cluster scope
    # Group subject through a ClusterRoleBinding: everywhere.
    await api.create(
        RBAC_GROUP,
        "clusterrolebindings",
        binding(
            "ClusterRoleBinding",
            "devs",
            "ClusterRole",
            "pod-reader",
            [{"kind": "Group", "name": "dev", "apiGroup": RBAC_GROUP}],
        ),
    )
    allowed, reason = authz.authorize(req("list", "pods"))
    assert allowed
    assert reason == (
        'RBAC: allowed by ClusterRoleBinding "devs" of ClusterRole "pod-reader" to Group "dev"'
    )
    assert not authz.authorize(req("delete", "pods", "team-b", "x"))[0]
    assert not authz.authorize(req("list", "pods", user=UserInfo("bob")))[0]


async def test_role_in_namespace_and_service_account_subject() -> None:
    api = MemoryAPI()
    authz = RBACAuthorizer(api)
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]
    await api.create(RBAC_GROUP, "roles", role("Role", "cm", rules, "ns1"))
    # ServiceAccount subject without namespace defaults to the binding's namespace.
    await api.create(
        RBAC_GROUP,
        "rolebindings",
        binding(
            "RoleBinding",
            "cm",
            "Role",
            "cm",
            [{"kind": "ServiceAccount", "name": "robot"}],
            namespace="ns1",
        ),
    )
    robot = UserInfo("system:serviceaccount:ns1:robot", ("system:serviceaccounts",))
    other = UserInfo("system:serviceaccount:ns2:robot", ("system:serviceaccounts",))
    assert authz.authorize(req("create", "configmaps", "ns1", user=robot))[0]
    assert not authz.authorize(req("create", "configmaps", "ns1", user=other))[0]
    assert not authz.authorize(req("create", "configmaps", "ns2", user=robot))[0]


async def test_dangling_role_reference_is_reported() -> None:
    api = MemoryAPI()
    authz = RBACAuthorizer(api)
    await api.create(
        RBAC_GROUP,
        "rolebindings",
        binding(
            "RoleBinding",
            "b",
            "Role",
            "missing",
            [{"kind": "User", "name": "alice"}],
            namespace="ns1",
        ),
    )
    allowed, message = authz.authorize(req("get", "pods", "ns1", "p"))
    assert not allowed
    assert message == (
        'pods "p" is forbidden: User "alice" cannot get resource "pods" in API group "" in '
        'the namespace "ns1": RBAC: role.rbac.authorization.k8s.io "missing" not found'
    )
    assert authz.decide(req("get", "pods", "ns1", "p")) == (
        False,
        'RBAC: role.rbac.authorization.k8s.io "missing" not found',
    )


async def test_system_masters_is_allowed_everything() -> None:
    authz = RBACAuthorizer(MemoryAPI())
    admin = UserInfo("kubernetes-admin", ("system:masters", "system:authenticated"))
    assert authz.authorize(req("delete", "nodes", user=admin))[0]
    assert authz.authorize(path("get", "/anything", user=admin))[0]


async def test_bootstrap_policy_and_aggregation() -> None:
    api = MemoryAPI()
    await bootstrap_policy(api)
    await bootstrap_policy(api)  # idempotent
    names = {r["metadata"]["name"] for r in api.list(RBAC_GROUP, "clusterroles")}
    assert {
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
    } <= names
    authz = RBACAuthorizer(api)
    anyone = UserInfo("carol", ("system:authenticated",))
    assert authz.authorize(path("get", "/apis", anyone))[0]
    assert authz.authorize(path("get", "/version", anyone))[0]
    assert authz.authorize(
        req("create", "selfsubjectaccessreviews", group="authorization.k8s.io", user=anyone)
    )[0]
    assert not authz.authorize(req("list", "pods", "default", user=anyone))[0]

    tasks = start([aggregation_controller], api)
    try:
        await api.create(
            RBAC_GROUP,
            "rolebindings",
            binding(
                "RoleBinding",
                "v",
                "ClusterRole",
                "view",
                [{"kind": "User", "name": "carol"}],
                namespace="ns",
            ),
        )
        await eventually(lambda: authz.authorize(req("list", "pods", "ns", user=anyone))[0])
        assert not authz.authorize(req("create", "pods", "ns", user=anyone))[0]
        # A new role labelled aggregate-to-view extends view, and through it edit and admin.
        extra = [{"apiGroups": ["liqo.io"], "resources": ["widgets"], "verbs": ["get"]}]
        await api.create(
            RBAC_GROUP,
            "clusterroles",
            role(
                "ClusterRole",
                "widgets-view",
                extra,
                metadata={"labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            ),
        )
        attrs = req("get", "widgets", "ns", "w", group="liqo.io", user=anyone)
        await eventually(lambda: authz.authorize(attrs)[0])

        def admin_has_widgets() -> bool:
            admin = api.get(RBAC_GROUP, "clusterroles", "", "admin")
            return admin is not None and extra[0] in admin["rules"]

        await eventually(admin_has_widgets)
        # Dropping the label removes the rule again.
        await api.delete(RBAC_GROUP, "clusterroles", "", "widgets-view")
        await eventually(lambda: not authz.authorize(attrs)[0])
    finally:
        await stop(tasks)
