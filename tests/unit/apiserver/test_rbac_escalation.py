"""RBAC escalation prevention on role and binding writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_security_memapi import MemoryAPI, binding, role

from liqo_core.sandbox.apiserver.security import Security
from liqo_core.sandbox.apiserver.security.escalation import missing_rules, rule_covers
from liqo_core.sandbox.apiserver.types import (
    AdmissionAttributes,
    AdmissionDenied,
    ResourceType,
    UserInfo,
)

RBAC = "rbac.authorization.k8s.io"
ROLES = ResourceType(RBAC, "v1", "roles", "Role", True)
CLUSTER_ROLES = ResourceType(RBAC, "v1", "clusterroles", "ClusterRole", False)
BINDINGS = ResourceType(RBAC, "v1", "rolebindings", "RoleBinding", True)
ALICE = UserInfo("alice", ("dev", "system:authenticated"))
PODS_GET = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}


@pytest.mark.parametrize(
    ("owner", "sub", "covered"),
    [
        (
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]},
            True,
        ),
        (PODS_GET, {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}, False),
        (
            {"apiGroups": [""], "resources": ["*/status"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["get"]},
            True,
        ),
        (
            {**PODS_GET, "resourceNames": ["p1"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
            False,
        ),
        (
            PODS_GET,
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "resourceNames": ["p1"]},
            True,
        ),
        (
            {"nonResourceURLs": ["/api/*"], "verbs": ["get"]},
            {"nonResourceURLs": ["/api/v1"], "verbs": ["get"]},
            True,
        ),
        # A requested "*" is only covered by an owned "*".
        (PODS_GET, {"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}, False),
    ],
)
def test_rule_covers(owner: dict[str, Any], sub: dict[str, Any], covered: bool) -> None:
    assert rule_covers(owner, sub) is covered


def test_missing_rules_are_atomic() -> None:
    wanted = [{"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get", "list"]}]
    assert missing_rules([PODS_GET], wanted) == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]},
    ]


@pytest.fixture
async def security(tmp_path: Path) -> tuple[Security, MemoryAPI]:
    api = MemoryAPI()
    sec = Security(tmp_path, "c1", api)
    manager = [
        {"apiGroups": [RBAC], "resources": ["roles", "rolebindings"], "verbs": ["create", "get"]},
        PODS_GET,
    ]
    await api.create(RBAC, "roles", role("Role", "manager", manager, "ns1"))
    await api.create(
        RBAC,
        "rolebindings",
        binding(
            "RoleBinding",
            "manager",
            "Role",
            "manager",
            [{"kind": "User", "name": "alice"}],
            namespace="ns1",
        ),
    )
    return sec, api


def attrs(
    rt: ResourceType, name: str, ns: str = "ns1", user: UserInfo = ALICE
) -> AdmissionAttributes:
    return AdmissionAttributes(user, "CREATE", rt, "", ns, name, False)


async def test_roles_only_with_held_permissions(security: tuple[Security, MemoryAPI]) -> None:
    sec, _ = security
    ok = role("Role", "reader", [PODS_GET], "ns1")
    await sec.admission.validate(attrs(ROLES, "reader"), ok, None)
    more = role(
        "Role",
        "writer",
        [{"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get", "delete"]}],
        "ns1",
    )
    with pytest.raises(AdmissionDenied) as err:
        await sec.admission.validate(attrs(ROLES, "writer"), more, None)
    assert err.value.code == 403
    assert err.value.message == (
        'roles.rbac.authorization.k8s.io "writer" is forbidden: user "alice" '
        '(groups=["dev" "system:authenticated"]) is attempting to grant RBAC permissions not '
        'currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}'
    )
    # Permissions held in ns1 do not count in ns2.
    with pytest.raises(AdmissionDenied):
        await sec.admission.validate(attrs(ROLES, "reader", "ns2"), ok, None)
    # system:masters may grant anything.
    admin = UserInfo("admin", ("system:masters",))
    await sec.admission.validate(attrs(ROLES, "writer", user=admin), more, None)


async def test_bindings_need_the_role_permissions_or_bind(
    security: tuple[Security, MemoryAPI],
) -> None:
    sec, api = security
    await sec.bootstrap()
    bob = [{"kind": "User", "name": "bob"}]
    view = binding(
        "RoleBinding", "v", "ClusterRole", "system:aggregate-to-view", bob, namespace="ns1"
    )
    with pytest.raises(AdmissionDenied) as err:
        await sec.admission.validate(attrs(BINDINGS, "v"), view, None)
    assert err.value.message.startswith(
        'rolebindings.rbac.authorization.k8s.io "v" is forbidden: user "alice"'
    )
    # With "bind" on that ClusterRole, the binding is allowed.
    await api.create(
        RBAC,
        "clusterroles",
        role(
            "ClusterRole",
            "bind-view",
            [
                {
                    "apiGroups": [RBAC],
                    "resources": ["clusterroles"],
                    "verbs": ["bind"],
                    "resourceNames": ["system:aggregate-to-view"],
                }
            ],
        ),
    )
    await api.create(
        RBAC,
        "rolebindings",
        binding(
            "RoleBinding",
            "bind-view",
            "ClusterRole",
            "bind-view",
            [{"kind": "User", "name": "alice"}],
            namespace="ns1",
        ),
    )
    await sec.admission.validate(attrs(BINDINGS, "v"), view, None)
    # Binding a role whose rules alice holds needs no "bind".
    own = binding(
        "RoleBinding", "m", "Role", "manager", [{"kind": "User", "name": "bob"}], namespace="ns1"
    )
    await sec.admission.validate(attrs(BINDINGS, "m"), own, None)


async def test_aggregation_rule_needs_escalate(security: tuple[Security, MemoryAPI]) -> None:
    sec, _ = security
    agg = role("ClusterRole", "agg", [], aggregationRule={"clusterRoleSelectors": []})
    with pytest.raises(AdmissionDenied) as err:
        await sec.admission.validate(attrs(CLUSTER_ROLES, "agg", ""), agg, None)
    assert err.value.message == (
        'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin '
        "privileges to use the aggregationRule"
    )
