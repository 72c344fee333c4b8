"""Access, rules, token and self reviews answered by the security layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_security_memapi import MemoryAPI, binding, role

from liqo_core.sandbox.apiserver.security import Security
from liqo_core.sandbox.apiserver.types import RequestAttributes, SubresourceCall, UserInfo

AUTHZ = "authorization.k8s.io"
AUTHN = "authentication.k8s.io"
ALICE = UserInfo("alice", ("dev", "system:authenticated"), "uid-a")


def call(
    user: UserInfo, group: str, resource: str, body: dict[str, Any], ns: str = ""
) -> SubresourceCall:
    attrs = RequestAttributes(
        user=user,
        verb="create",
        resource_request=True,
        api_group=group,
        api_version="v1",
        resource=resource,
        namespace=ns,
    )
    return SubresourceCall(attrs, "POST", body, {})


@pytest.fixture
async def security(tmp_path: Path) -> tuple[Security, MemoryAPI]:
    api = MemoryAPI()
    sec = Security(tmp_path, "c1", api)
    await sec.bootstrap()
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s1"], "verbs": ["get"]},
    ]
    await api.create("rbac.authorization.k8s.io", "roles", role("Role", "r", rules, "ns1"))
    await api.create(
        "rbac.authorization.k8s.io",
        "rolebindings",
        binding(
            "RoleBinding", "r", "Role", "r", [{"kind": "User", "name": "alice"}], namespace="ns1"
        ),
    )
    return sec, api


async def test_self_subject_access_review(security: tuple[Security, MemoryAPI]) -> None:
    sec, api = security
    handler = sec.virtual_resources()[(AUTHZ, "selfsubjectaccessreviews")]
    body: dict[str, Any] = {
        "apiVersion": f"{AUTHZ}/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": "ns1", "verb": "list", "resource": "pods"}},
    }
    out = await handler(call(ALICE, AUTHZ, "selfsubjectaccessreviews", body), api)
    assert out["status"]["allowed"] is True
    assert (
        out["status"]["reason"]
        == 'RBAC: allowed by RoleBinding "r/ns1" of Role "r" to User "alice"'
    )
    body["spec"]["resourceAttributes"]["namespace"] = "ns2"
    out = await handler(call(ALICE, AUTHZ, "selfsubjectaccessreviews", body), api)
    assert out["status"] == {"allowed": False}
    non = {"spec": {"nonResourceAttributes": {"path": "/api", "verb": "get"}}}
    out = await handler(call(ALICE, AUTHZ, "selfsubjectaccessreviews", non), api)
    assert out["status"]["allowed"] is True


async def test_subject_access_review_for_another_user(security: tuple[Security, MemoryAPI]) -> None:
    sec, api = security
    handler = sec.virtual_resources()[(AUTHZ, "subjectaccessreviews")]
    body: dict[str, Any] = {
        "spec": {
            "user": "alice",
            "resourceAttributes": {
                "namespace": "ns1",
                "verb": "get",
                "resource": "secrets",
                "name": "s1",
            },
        }
    }
    out = await handler(
        call(UserInfo("admin", ("system:masters",)), AUTHZ, "subjectaccessreviews", body), api
    )
    assert out["status"]["allowed"] is True
    body["spec"]["resourceAttributes"]["name"] = "s2"
    out = await handler(call(UserInfo("admin"), AUTHZ, "subjectaccessreviews", body), api)
    assert out["status"]["allowed"] is False


async def test_self_subject_rules_review(security: tuple[Security, MemoryAPI]) -> None:
    sec, api = security
    handler = sec.virtual_resources()[(AUTHZ, "selfsubjectrulesreviews")]
    out = await handler(
        call(ALICE, AUTHZ, "selfsubjectrulesreviews", {"spec": {"namespace": "ns1"}}), api
    )
    rules = out["status"]["resourceRules"]
    assert {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]} in rules
    assert {
        "verbs": ["get"],
        "apiGroups": [""],
        "resources": ["secrets"],
        "resourceNames": ["s1"],
    } in rules
    assert any("/api" in r["nonResourceURLs"] for r in out["status"]["nonResourceRules"])
    assert out["status"]["incomplete"] is False


async def test_token_review_and_self_subject_review(security: tuple[Security, MemoryAPI]) -> None:
    sec, api = security
    token = sec.add_static_token("tom", ["ops"], "uid-t")
    handler = sec.virtual_resources()[(AUTHN, "tokenreviews")]
    out = await handler(call(ALICE, AUTHN, "tokenreviews", {"spec": {"token": token}}), api)
    assert out["status"]["authenticated"] is True
    assert out["status"]["user"] == {
        "username": "tom",
        "uid": "uid-t",
        "groups": ["ops", "system:authenticated"],
    }
    out = await handler(call(ALICE, AUTHN, "tokenreviews", {"spec": {"token": "nope"}}), api)
    assert out["status"]["authenticated"] is False
    whoami = sec.virtual_resources()[(AUTHN, "selfsubjectreviews")]
    out = await whoami(call(ALICE, AUTHN, "selfsubjectreviews", {}), api)
    assert out["kind"] == "SelfSubjectReview"
    assert out["status"]["userInfo"] == {
        "username": "alice",
        "uid": "uid-a",
        "groups": ["dev", "system:authenticated"],
    }
