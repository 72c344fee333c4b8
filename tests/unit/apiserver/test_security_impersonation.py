"""Impersonation headers (``kubectl --as``) checked against RBAC."""

from __future__ import annotations

from pathlib import Path

import pytest
from multidict import CIMultiDict
from test_security_memapi import MemoryAPI, binding, role

from liqo_core.sandbox.apiserver.security import Security
from liqo_core.sandbox.apiserver.types import APIError

RBAC = "rbac.authorization.k8s.io"


@pytest.fixture
async def security(tmp_path: Path) -> Security:
    api = MemoryAPI()
    sec = Security(tmp_path, "c1", api)
    await sec.bootstrap()
    rules = [
        {
            "apiGroups": [""],
            "resources": ["users"],
            "verbs": ["impersonate"],
            "resourceNames": ["bob"],
        }
    ]
    await api.create(RBAC, "clusterroles", role("ClusterRole", "imp-bob", rules))
    await api.create(
        RBAC,
        "clusterrolebindings",
        binding(
            "ClusterRoleBinding",
            "imp",
            "ClusterRole",
            "imp-bob",
            [{"kind": "User", "name": "alice"}],
        ),
    )
    return sec


def headers(token: str, user: str, *groups: str) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict(
        {"Authorization": f"Bearer {token}", "Impersonate-User": user}
    )
    for group in groups:
        out.add("Impersonate-Group", group)
    return out


async def test_admin_impersonates_a_service_account_and_groups(security: Security) -> None:
    token = security.add_static_token("admin", ["system:masters"])
    user = security.authenticate(
        headers(token, "system:serviceaccount:ns1:robot", "g1", "g2"), None
    )
    assert user is not None
    assert user.name == "system:serviceaccount:ns1:robot"
    assert user.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:ns1",
        "g1",
        "g2",
        "system:authenticated",
    )


async def test_impersonation_needs_the_impersonate_verb(security: Security) -> None:
    token = security.add_static_token("alice")
    user = security.authenticate(headers(token, "bob"), None)
    assert user is not None and user.name == "bob"
    assert user.groups == ("system:authenticated",)
    with pytest.raises(APIError) as err:
        security.authenticate(headers(token, "carol"), None)
    assert err.value.code == 403
    assert err.value.message == (
        'users "carol" is forbidden: User "alice" cannot impersonate resource "users" in API '
        'group "" at the cluster scope'
    )
    with pytest.raises(APIError) as err:
        security.authenticate(headers(token, "bob", "system:masters"), None)
    assert err.value.message.startswith('groups "system:masters" is forbidden: User "alice"')
    with pytest.raises(APIError) as err:
        security.authenticate(headers(token, "system:serviceaccount:ns1:robot"), None)
    assert err.value.message == (
        'serviceaccounts "robot" is forbidden: User "alice" cannot impersonate resource '
        '"serviceaccounts" in API group "" in the namespace "ns1"'
    )


async def test_groups_without_user_is_a_bad_request(security: Security) -> None:
    token = security.add_static_token("admin", ["system:masters"])
    with pytest.raises(APIError) as err:
        security.authenticate({"Authorization": f"Bearer {token}", "Impersonate-Group": "g"}, None)
    assert err.value.code == 400
    # Bad credentials stay a 401, whatever the impersonation headers say.
    assert (
        security.authenticate({"Authorization": "Bearer nope", "Impersonate-User": "x"}, None)
        is None
    )
