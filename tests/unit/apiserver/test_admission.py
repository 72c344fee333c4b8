"""Admission webhooks: matching, and real HTTPS calls to a webhook server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from test_security_memapi import MemoryAPI

from liqo_core.sandbox.apiserver.security.admission import Admission
from liqo_core.sandbox.apiserver.security.pki import CertificateAuthority
from liqo_core.sandbox.apiserver.security.webhooks import Webhook, webhook_matches
from liqo_core.sandbox.apiserver.types import (
    AdmissionAttributes,
    AdmissionDenied,
    ResourceType,
    UserInfo,
)

AR = "admissionregistration.k8s.io"
CM = ResourceType("", "v1", "configmaps", "ConfigMap", True)
NS = ResourceType("", "v1", "namespaces", "Namespace", False)
NODE = ResourceType("", "v1", "nodes", "Node", False)
DEPLOY = ResourceType("apps", "v1", "deployments", "Deployment", True)
ALICE = UserInfo("alice", ("system:authenticated",), "u-1")


def attrs(
    rt: ResourceType = CM,
    *,
    op: str = "CREATE",
    ns: str = "ns1",
    name: str = "c",
    sub: str = "",
    dry: bool = False,
) -> AdmissionAttributes:
    return AdmissionAttributes(ALICE, op, rt, sub, ns, name, dry)


def cm(name: str = "c", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "ns1", "labels": labels or {}},
        "data": {"k": "v"},
    }


def hook(**spec: Any) -> Webhook:
    spec.setdefault("name", "h.example.com")
    spec.setdefault(
        "rules",
        [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["configmaps"],
            }
        ],
    )
    return Webhook("cfg", spec)


RULE = {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"]}


@pytest.mark.parametrize(
    ("rule", "request_attrs", "matched"),
    [
        ({**RULE, "resources": ["configmaps"]}, attrs(), True),
        ({**RULE, "resources": ["configmaps"]}, attrs(sub="status", op="UPDATE"), False),
        ({**RULE, "resources": ["configmaps/*"]}, attrs(sub="status", op="UPDATE"), True),
        ({**RULE, "resources": ["*"]}, attrs(sub="status", op="UPDATE"), False),
        ({**RULE, "resources": ["*/*"]}, attrs(sub="status", op="UPDATE"), True),
        ({**RULE, "resources": ["*/status"]}, attrs(sub="status", op="UPDATE"), True),
        ({**RULE, "resources": ["*"], "operations": ["UPDATE"]}, attrs(), False),
        ({**RULE, "resources": ["*"], "apiGroups": ["apps"]}, attrs(), False),
        ({**RULE, "resources": ["*"], "apiGroups": ["apps"]}, attrs(DEPLOY), True),
        ({**RULE, "resources": ["*"], "scope": "Cluster"}, attrs(), False),
        ({**RULE, "resources": ["*"], "scope": "Cluster"}, attrs(NODE, ns=""), True),
        ({**RULE, "resources": ["*"], "scope": "Cluster"}, attrs(NS, ns="x", name="x"), True),
        ({**RULE, "resources": ["*"], "scope": "Namespaced"}, attrs(NS, ns="x", name="x"), False),
        ({**RULE, "resources": ["*"], "scope": "Namespaced"}, attrs(), True),
    ],
)
def test_rule_matching(
    rule: dict[str, Any], request_attrs: AdmissionAttributes, matched: bool
) -> None:
    api = MemoryAPI()
    assert webhook_matches(hook(rules=[rule]), request_attrs, cm(), None, api) is matched


async def test_selectors_and_exemptions() -> None:
    api = MemoryAPI()
    await api.create("", "namespaces", {"metadata": {"name": "ns1", "labels": {"team": "a"}}})
    rule = {**RULE, "resources": ["*"]}
    by_ns = hook(rules=[rule], namespaceSelector={"matchLabels": {"team": "a"}})
    other_ns = hook(rules=[rule], namespaceSelector={"matchLabels": {"team": "b"}})
    assert webhook_matches(by_ns, attrs(), cm(), None, api)
    assert not webhook_matches(other_ns, attrs(), cm(), None, api)
    # Cluster-scoped objects (not Namespaces) ignore the namespaceSelector.
    assert webhook_matches(other_ns, attrs(NODE, ns=""), {"metadata": {}}, None, api)
    # A Namespace is matched on its own labels.
    ns_obj = {"metadata": {"name": "x", "labels": {"team": "b"}}}
    assert webhook_matches(other_ns, attrs(NS, ns="", name="x"), ns_obj, None, api)
    by_obj = hook(
        rules=[rule],
        objectSelector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
    )
    assert webhook_matches(by_obj, attrs(), cm(labels={"app": "web"}), None, api)
    assert not webhook_matches(by_obj, attrs(), cm(), None, api)
    # Either the old or the new object may match.
    assert webhook_matches(by_obj, attrs(op="UPDATE"), cm(), cm(labels={"app": "web"}), api)
    exact = hook(rules=[{**RULE, "resources": ["*"], "apiVersions": ["v2"]}], matchPolicy="Exact")
    assert not webhook_matches(exact, attrs(), cm(), None, api)
    equivalent = hook(rules=[{**RULE, "resources": ["*"], "apiVersions": ["v2"]}])
    assert webhook_matches(equivalent, attrs(), cm(), None, api)
    wh = ResourceType(AR, "v1", "validatingwebhookconfigurations", "X", False)
    assert not webhook_matches(
        hook(rules=[{**RULE, "resources": ["*"]}]), attrs(wh, ns=""), {"metadata": {}}, None, api
    )


@dataclass
class WebhookServer:
    """An HTTPS AdmissionReview server; ``answer`` builds each response."""

    port: int
    ca_bundle: str
    reviews: list[dict[str, Any]] = field(default_factory=list)
    answer: Callable[[dict[str, Any]], dict[str, Any]] = lambda req: {"allowed": True}
    delay: float = 0.0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[WebhookServer]:
    ca = CertificateAuthority(tmp_path / "webhook-ca", "webhooks")
    issued = ca.issue_serving(["127.0.0.1", "wh.ns1.svc"])
    (tmp_path / "s.crt").write_bytes(issued.cert_pem)
    (tmp_path / "s.key").write_bytes(issued.key_pem)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp_path / "s.crt", tmp_path / "s.key")
    state = WebhookServer(0, base64.b64encode(ca.pem).decode())

    async def review(request: web.Request) -> web.Response:
        body = await request.json()
        state.reviews.append(body)
        if state.delay:
            await asyncio.sleep(state.delay)  # a slow webhook, to exercise timeoutSeconds
        response = {"uid": body["request"]["uid"], **state.answer(body["request"])}
        return web.json_response(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
        )

    app = web.Application()
    app.router.add_post("/{path:.*}", review)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    state.port = runner.addresses[0][1]
    yield state
    await runner.cleanup()


async def configure(api: MemoryAPI, kind: str, *hooks: dict[str, Any]) -> None:
    await api.create(
        AR,
        f"{kind}webhookconfigurations",
        {"metadata": {"name": f"{kind}-cfg"}, "webhooks": list(hooks)},
    )


def url_hook(server: WebhookServer, name: str = "h.example.com", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "clientConfig": {
            "url": f"https://127.0.0.1:{server.port}/check",
            "caBundle": server.ca_bundle,
        },
        "rules": [
            {
                "operations": ["CREATE", "UPDATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["configmaps"],
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        **extra,
    }


def admission(api: MemoryAPI) -> Admission:
    return Admission(api, lambda a: (False, ""))


async def test_validating_webhook_allows_and_denies(server: WebhookServer) -> None:
    api = MemoryAPI()
    await configure(api, "validating", url_hook(server))
    chain = admission(api)
    await chain.validate(attrs(), cm(), None)
    request = server.reviews[-1]["request"]
    assert server.reviews[-1]["apiVersion"] == "admission.k8s.io/v1"
    assert request["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert (request["operation"], request["namespace"], request["name"]) == ("CREATE", "ns1", "c")
    assert request["userInfo"] == {
        "username": "alice",
        "groups": ["system:authenticated"],
        "uid": "u-1",
    }
    assert request["object"] == cm() and request["oldObject"] is None
    assert request["dryRun"] is False
    assert request["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}

    server.answer = lambda req: {"allowed": False, "status": {"code": 403, "message": "no thanks"}}
    with pytest.raises(AdmissionDenied) as err:
        await chain.validate(attrs(), cm(), None)
    assert err.value.code == 403
    assert err.value.message == 'admission webhook "h.example.com" denied the request: no thanks'
    server.answer = lambda req: {"allowed": False}
    with pytest.raises(AdmissionDenied) as err:
        await chain.validate(attrs(), cm(), None)
    assert err.value.code == 400
    assert err.value.message == (
        'admission webhook "h.example.com" denied the request without explanation'
    )
    # Not matched: not called.
    calls = len(server.reviews)
    await chain.validate(attrs(DEPLOY), {"metadata": {"name": "d"}}, None)
    assert len(server.reviews) == calls


async def test_mutating_webhooks_patch_in_order(server: WebhookServer) -> None:
    api = MemoryAPI()

    def answer(req: dict[str, Any]) -> dict[str, Any]:
        labels = req["object"]["metadata"].get("labels") or {}
        value = "second" if "first" in labels else "first"
        patch = [{"op": "add", "path": f"/metadata/labels/{value}", "value": "yes"}]
        return {
            "allowed": True,
            "patchType": "JSONPatch",
            "patch": base64.b64encode(json.dumps(patch).encode()).decode(),
        }

    server.answer = answer
    await configure(
        api, "mutating", url_hook(server, "a.example.com"), url_hook(server, "b.example.com")
    )
    out = await admission(api).mutate(attrs(), cm(), None)
    assert out["metadata"]["labels"] == {"first": "yes", "second": "yes"}


async def test_failure_policy(server: WebhookServer, tmp_path: Path) -> None:
    api = MemoryAPI()
    unreachable = url_hook(server, "down.example.com")
    unreachable["clientConfig"]["url"] = "https://127.0.0.1:1/check"
    await configure(api, "validating", unreachable)
    with pytest.raises(AdmissionDenied) as err:
        await admission(api).validate(attrs(), cm(), None)
    assert err.value.code == 500
    assert err.value.message.startswith(
        'Internal error occurred: failed calling webhook "down.example.com": failed to call '
        'webhook: Post "https://127.0.0.1:1/check?timeout=10s": '
    )
    api2 = MemoryAPI()
    await configure(api2, "validating", {**unreachable, "failurePolicy": "Ignore"})
    await admission(api2).validate(attrs(), cm(), None)
    # A webhook answering after timeoutSeconds counts as failed.
    api3 = MemoryAPI()
    server.delay = 3.0
    await configure(api3, "validating", url_hook(server, timeoutSeconds=1))
    with pytest.raises(AdmissionDenied) as err:
        await admission(api3).validate(attrs(), cm(), None)
    assert err.value.message.endswith("context deadline exceeded")
    server.delay = 0.0
    # A wrong caBundle fails TLS verification.
    api4 = MemoryAPI()
    bad = url_hook(server)
    other = CertificateAuthority(tmp_path / "other-ca", "o")
    bad["clientConfig"]["caBundle"] = base64.b64encode(other.pem).decode()
    await configure(api4, "validating", bad)
    with pytest.raises(AdmissionDenied) as err:
        await admission(api4).validate(attrs(), cm(), None)
    assert err.value.code == 500


async def test_uid_mismatch_and_dry_run(server: WebhookServer) -> None:
    api = MemoryAPI()
    await configure(api, "validating", url_hook(server, sideEffects="Some"))
    with pytest.raises(AdmissionDenied) as err:
        await admission(api).validate(attrs(dry=True), cm(), None)
    assert (err.value.code, err.value.message) == (
        400,
        'admission webhook "h.example.com" does not support dry run',
    )
    await admission(api).validate(attrs(), cm(), None)
    server.answer = lambda req: {"allowed": True, "uid": "wrong"}
    with pytest.raises(AdmissionDenied) as err:
        await admission(api).validate(attrs(), cm(), None)
    assert 'expected response.uid "' in err.value.message


async def test_service_reference_resolves_through_endpoint_slices(server: WebhookServer) -> None:
    api = MemoryAPI()
    svc_hook = url_hook(server, "svc.example.com")
    svc_hook["clientConfig"] = {
        "service": {"namespace": "ns1", "name": "wh", "path": "/check", "port": 443},
        "caBundle": server.ca_bundle,
    }
    await configure(api, "validating", svc_hook)
    await api.create(
        "",
        "services",
        {
            "metadata": {"name": "wh", "namespace": "ns1"},
            "spec": {"ports": [{"name": "https", "port": 443}]},
        },
    )
    with pytest.raises(AdmissionDenied) as err:
        await admission(api).validate(attrs(), cm(), None)
    assert err.value.message == (
        'Internal error occurred: failed calling webhook "svc.example.com": failed to call '
        'webhook: Post "https://wh.ns1.svc:443/check?timeout=10s": '
        'no endpoints available for service "wh"'
    )
    await api.create(
        "discovery.k8s.io",
        "endpointslices",
        {
            "metadata": {
                "name": "wh-1",
                "namespace": "ns1",
                "labels": {"kubernetes.io/service-name": "wh"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": server.port}],
        },
    )
    calls = len(server.reviews)
    await admission(api).validate(attrs(), cm(), None)
    assert len(server.reviews) == calls + 1


@pytest.mark.parametrize(("policy", "expected"), [("IfNeeded", "2"), ("Never", "1")])
async def test_reinvocation_policy(server: WebhookServer, policy: str, expected: str) -> None:
    api = MemoryAPI()

    def answer(req: dict[str, Any]) -> dict[str, Any]:
        labels = req["object"]["metadata"].get("labels") or {}
        if "a" not in labels:  # webhook a, first call
            op = {"op": "add", "path": "/metadata/labels/a", "value": "1"}
        elif "b" not in labels:  # webhook b
            op = {"op": "add", "path": "/metadata/labels/b", "value": "yes"}
        else:  # webhook a, called again after b changed the object
            op = {"op": "replace", "path": "/metadata/labels/a", "value": "2"}
        patch = base64.b64encode(json.dumps([op]).encode()).decode()
        return {"allowed": True, "patchType": "JSONPatch", "patch": patch}

    server.answer = answer
    await configure(
        api,
        "mutating",
        url_hook(server, "a.example.com", reinvocationPolicy=policy),
        url_hook(server, "b.example.com"),
    )
    out = await admission(api).mutate(attrs(), cm(), None)
    assert out["metadata"]["labels"] == {"a": expected, "b": "yes"}
