"""ServiceAccount tokens: TokenRequest, legacy token Secrets, default ServiceAccounts."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from test_security_memapi import MemoryAPI, eventually, sa, start, stop

from liqo_core.sandbox.apiserver.security import Security
from liqo_core.sandbox.apiserver.security.serviceaccounts import (
    bound_token,
    default_serviceaccount_controller,
    root_ca_publisher,
)
from liqo_core.sandbox.apiserver.types import APIError, RequestAttributes, SubresourceCall, UserInfo

ADMIN = UserInfo("kubernetes-admin", ("system:masters", "system:authenticated"))


def token_call(ns: str, name: str, spec: dict[str, Any]) -> SubresourceCall:
    attrs = RequestAttributes(
        user=ADMIN,
        verb="create",
        resource_request=True,
        api_version="v1",
        resource="serviceaccounts",
        subresource="token",
        namespace=ns,
        name=name,
    )
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    return SubresourceCall(attrs, "POST", body, {})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Security, MemoryAPI]:
    api = MemoryAPI()
    return Security(tmp_path, "c1", api), api


async def test_token_request_gives_a_bound_usable_token(setup: tuple[Security, MemoryAPI]) -> None:
    security, api = setup
    created = await api.create("", "serviceaccounts", sa("ns1", "robot"))
    handler = security.subresource_handlers()[("", "serviceaccounts", "token", "POST")]
    out = await handler(token_call("ns1", "robot", {}), api)
    assert out["kind"] == "TokenRequest"
    assert out["spec"]["expirationSeconds"] == 3600
    token = out["status"]["token"]
    user = security.authenticate(bearer(token), None)
    assert user is not None
    assert user.name == "system:serviceaccount:ns1:robot"
    assert user.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:ns1",
        "system:authenticated",
    )
    assert user.uid == created["metadata"]["uid"]
    # Deleting and recreating the ServiceAccount invalidates its tokens (new uid).
    await api.delete("", "serviceaccounts", "ns1", "robot")
    assert security.authenticate(bearer(token), None) is None
    await api.create("", "serviceaccounts", sa("ns1", "robot"))
    assert security.authenticate(bearer(token), None) is None


async def test_token_request_validation_and_audiences(setup: tuple[Security, MemoryAPI]) -> None:
    security, api = setup
    await api.create("", "serviceaccounts", sa("ns1", "robot"))
    handler = security.subresource_handlers()[("", "serviceaccounts", "token", "POST")]
    with pytest.raises(APIError) as err:
        await handler(token_call("ns1", "robot", {"expirationSeconds": 599}), api)
    assert err.value.code == 422
    assert err.value.message == (
        'TokenRequest.authentication.k8s.io "robot" is invalid: spec.expirationSeconds: '
        "Invalid value: 599: may not specify a duration less than 10 minutes"
    )
    with pytest.raises(APIError) as err:
        await handler(token_call("ns1", "ghost", {}), api)
    assert err.value.code == 404
    out = await handler(token_call("ns1", "robot", {"audiences": ["vault"]}), api)
    token = out["status"]["token"]
    # A token for another audience is not accepted by the API server ...
    assert security.authenticate(bearer(token), None) is None
    # ... but a TokenReview for that audience accepts it.
    found = security.authenticator.authenticate_token(token, ["vault"])
    assert found is not None and found[1] == ["vault"]


async def test_bound_object_and_expiry(setup: tuple[Security, MemoryAPI]) -> None:
    security, api = setup
    account = await api.create("", "serviceaccounts", sa("ns1", "robot"))
    pod = await api.create("", "pods", {"metadata": {"name": "p", "namespace": "ns1"}})
    handler = security.subresource_handlers()[("", "serviceaccounts", "token", "POST")]
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": pod["metadata"]["uid"]}
    out = await handler(token_call("ns1", "robot", {"boundObjectRef": ref}), api)
    user = security.authenticate(bearer(out["status"]["token"]), None)
    assert user is not None
    assert user.extra["authentication.kubernetes.io/pod-name"] == ("p",)
    await api.delete("", "pods", "ns1", "p")
    assert security.authenticate(bearer(out["status"]["token"]), None) is None
    expired, _ = bound_token(
        security.signing_key, account, ["https://kubernetes.default.svc.cluster.local"], -1
    )
    assert security.authenticate(bearer(expired), None) is None
    forged = out["status"]["token"][:-4] + "AAAA"
    assert security.authenticate(bearer(forged), None) is None


async def test_legacy_token_secret_controller(setup: tuple[Security, MemoryAPI]) -> None:
    security, api = setup
    tasks = start(security.controllers(), api)
    try:
        await api.create("", "serviceaccounts", sa("ns1", "robot"))
        await api.create(
            "",
            "secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/service-account-token",
                "metadata": {
                    "name": "robot-token",
                    "namespace": "ns1",
                    "annotations": {"kubernetes.io/service-account.name": "robot"},
                },
            },
        )

        def filled() -> dict[str, Any] | None:
            secret = api.get("", "secrets", "ns1", "robot-token")
            return secret if secret and (secret.get("data") or {}).get("token") else None

        secret = await eventually(filled)
        assert base64.b64decode(secret["data"]["ca.crt"]) == security.ca_pem
        assert base64.b64decode(secret["data"]["namespace"]) == b"ns1"
        token = base64.b64decode(secret["data"]["token"]).decode()
        user = security.authenticate(bearer(token), None)
        assert user is not None and user.name == "system:serviceaccount:ns1:robot"
        # Deleting the Secret revokes the token; deleting the SA deletes its token Secrets.
        await api.delete("", "secrets", "ns1", "robot-token")
        assert security.authenticate(bearer(token), None) is None
    finally:
        await stop(tasks)


async def test_token_secrets_go_with_their_service_account(
    setup: tuple[Security, MemoryAPI],
) -> None:
    security, api = setup
    tasks = start(security.controllers(), api)
    try:
        await api.create("", "serviceaccounts", sa("ns1", "robot"))
        await api.create(
            "",
            "secrets",
            {
                "type": "kubernetes.io/service-account-token",
                "metadata": {
                    "name": "t",
                    "namespace": "ns1",
                    "annotations": {"kubernetes.io/service-account.name": "robot"},
                },
            },
        )
        await eventually(lambda: (api.get("", "secrets", "ns1", "t") or {}).get("data"))
        await api.delete("", "serviceaccounts", "ns1", "robot")
        await eventually(lambda: api.get("", "secrets", "ns1", "t") is None)
    finally:
        await stop(tasks)


async def test_default_service_account_in_every_namespace() -> None:
    api = MemoryAPI()
    tasks = start([default_serviceaccount_controller], api)
    try:
        await api.create("", "namespaces", {"metadata": {"name": "ns1"}})
        await eventually(lambda: api.get("", "serviceaccounts", "ns1", "default"))
        await api.delete("", "serviceaccounts", "ns1", "default")
        await eventually(lambda: api.get("", "serviceaccounts", "ns1", "default"))
    finally:
        await stop(tasks)


async def test_root_ca_configmap_in_every_namespace(tmp_path: Path) -> None:
    api = MemoryAPI()
    security = Security(tmp_path, "c1", api)
    tasks = start([root_ca_publisher(security.ca_pem)], api)
    try:
        await api.create("", "namespaces", {"metadata": {"name": "ns1"}})
        cm = await eventually(lambda: api.get("", "configmaps", "ns1", "kube-root-ca.crt"))
        assert cm["data"] == {"ca.crt": security.ca_pem.decode()}
        # Tampering is undone.
        await api.update("", "configmaps", {**cm, "data": {"ca.crt": "nope"}})

        def restored() -> bool:
            current = api.get("", "configmaps", "ns1", "kube-root-ca.crt")
            return current is not None and current["data"]["ca.crt"] == security.ca_pem.decode()

        await eventually(restored)
    finally:
        await stop(tasks)
