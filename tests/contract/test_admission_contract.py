"""Contract: validating and mutating admission webhooks served by the test over HTTPS.

The webhook server listens on 127.0.0.1, so on a real cluster the API server must be able
to reach the test host's loopback (e.g. a local API server); webhooks only match objects
carrying this test's unique label, so nothing else in the cluster is affected.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client
from test_authn_helpers import status_of, wait_for, whoami

from liqo_core.testing.clusters import ClusterHandle, unique_name

pytestmark = pytest.mark.contract
AR = "admissionregistration.k8s.io/v1"


def _pem(obj: Any) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return bytes(
        obj.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def serving_tls(tmp: Path) -> tuple[ssl.SSLContext, bytes]:
    """(server TLS context for 127.0.0.1, CA PEM) from a throw-away CA."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook-test-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (tmp / "wh.crt").write_bytes(_pem(cert))
    (tmp / "wh.key").write_bytes(_pem(key))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp / "wh.crt", tmp / "wh.key")
    return ctx, _pem(ca)


def review(request: web.Request, response: dict[str, Any], uid: str) -> web.Response:
    return web.json_response(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": uid, **response},
        }
    )


DEPRECATED = "key 'deprecated' goes away in the next release"


async def validate(request: web.Request) -> web.Response:
    req = (await request.json())["request"]
    data = (req.get("object") or {}).get("data") or {}
    if "forbidden" in data:
        return review(
            request,
            {
                "allowed": False,
                "status": {
                    "code": 422,
                    "reason": "Invalid",
                    "message": "key 'forbidden' is not allowed",
                },
            },
            req["uid"],
        )
    if "deprecated" in data:
        return review(request, {"allowed": True, "warnings": [DEPRECATED]}, req["uid"])
    return review(request, {"allowed": True}, req["uid"])


async def mutate(request: web.Request) -> web.Response:
    req = (await request.json())["request"]
    patch = [
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {"mutated-by": "contract-test", "user": req["userInfo"]["username"]},
        }
    ]
    return review(
        request,
        {
            "allowed": True,
            "patchType": "JSONPatch",
            "patch": base64.b64encode(json.dumps(patch).encode()).decode(),
        },
        req["uid"],
    )


@pytest.fixture
async def webhook_url(tmp_path: Path) -> AsyncIterator[tuple[str, bytes]]:
    """(base URL, CA PEM) of an HTTPS webhook server on 127.0.0.1."""
    ctx, ca_pem = serving_tls(tmp_path)
    app = web.Application()
    app.router.add_post("/validate", validate)
    app.router.add_post("/mutate", mutate)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    yield f"https://127.0.0.1:{runner.addresses[0][1]}", ca_pem
    await runner.cleanup()


def hook(name: str, url: str, ca_pem: bytes, label: str) -> dict[str, Any]:
    return {
        "name": f"{name}.contract.liqo.io",
        "clientConfig": {"url": url, "caBundle": base64.b64encode(ca_pem).decode()},
        "rules": [
            {
                "operations": ["CREATE", "UPDATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["configmaps"],
            }
        ],
        "objectSelector": {"matchLabels": {"contract-test": label}},
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "failurePolicy": "Fail",
        "timeoutSeconds": 5,
    }


async def test_validating_and_mutating_webhooks(
    kube_cluster: ClusterHandle, namespace: str, webhook_url: tuple[str, bytes]
) -> None:
    base, ca_pem = webhook_url
    api = kube_cluster.shared_client()
    admission: Any = client.AdmissionregistrationV1Api(api)
    core: Any = client.CoreV1Api(api)
    label = unique_name("wh")
    vname, mname = unique_name("validate"), unique_name("mutate")
    await asyncio.to_thread(
        admission.create_validating_webhook_configuration,
        {
            "apiVersion": AR,
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": vname},
            "webhooks": [hook("validate", f"{base}/validate", ca_pem, label)],
        },
    )
    await asyncio.to_thread(
        admission.create_mutating_webhook_configuration,
        {
            "apiVersion": AR,
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": mname},
            "webhooks": [hook("mutate", f"{base}/mutate", ca_pem, label)],
        },
    )
    try:
        labels = {"contract-test": label}

        def create(name: str, data: dict[str, str]) -> Any:
            body = {"metadata": {"name": name, "labels": labels}, "data": data}
            return core.create_namespaced_config_map(namespace, body)

        async def denied() -> client.ApiException:
            # Webhook configurations take effect asynchronously on real clusters: poll.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while True:
                try:
                    await asyncio.to_thread(create, unique_name("bad"), {"forbidden": "x"})
                except client.ApiException as exc:
                    return exc
                assert loop.time() < deadline, "validating webhook never took effect"
                await asyncio.sleep(0.2)

        err = await denied()
        assert err.status == 422
        assert status_of(err)["message"] == (
            'admission webhook "validate.contract.liqo.io" denied the request: '
            "key 'forbidden' is not allowed"
        )
        created = await asyncio.to_thread(create, "good", {"ok": "1"})
        assert created.metadata.annotations["mutated-by"] == "contract-test"
        me = await asyncio.to_thread(whoami, kube_cluster.shared_client())
        assert created.metadata.annotations["user"] == me["username"]
        # Objects without the label are not sent to the webhooks.
        plain_body = {"metadata": {"name": "plain"}, "data": {"forbidden": "x"}}
        plain = await asyncio.to_thread(core.create_namespaced_config_map, namespace, plain_body)
        assert not (plain.metadata.annotations or {}).get("mutated-by")
        # An allowed request's webhook warnings reach the client as Warning headers.
        warned = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "warned", "namespace": namespace, "labels": labels},
            "data": {"deprecated": "1"},
        }
        proc = await asyncio.to_thread(
            kube_cluster.kubectl, "create", "-f", "-", input=json.dumps(warned)
        )
        assert f"Warning: {DEPRECATED}" in proc.stderr, proc.stderr
    finally:
        await asyncio.to_thread(admission.delete_validating_webhook_configuration, vname)
        await asyncio.to_thread(admission.delete_mutating_webhook_configuration, mname)


async def test_unreachable_webhook_and_failure_policy(
    kube_cluster: ClusterHandle, namespace: str
) -> None:
    api = kube_cluster.shared_client()
    admission: Any = client.AdmissionregistrationV1Api(api)
    core: Any = client.CoreV1Api(api)
    label = unique_name("down")
    name = unique_name("down")
    webhook = hook("down", "https://127.0.0.1:1/validate", b"", label)
    del webhook["clientConfig"]["caBundle"]
    await asyncio.to_thread(
        admission.create_validating_webhook_configuration,
        {
            "apiVersion": AR,
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [webhook],
        },
    )
    body = {"metadata": {"name": "x", "labels": {"contract-test": label}}}
    try:

        def refused() -> client.ApiException | None:
            try:
                core.create_namespaced_config_map(
                    namespace, {**body, "metadata": {**body["metadata"], "name": unique_name("x")}}
                )
            except client.ApiException as exc:
                return exc
            return None

        err = await asyncio.to_thread(wait_for, refused, 30, "webhook configuration effective")
        assert err.status == 500
        assert status_of(err)["message"].startswith(
            'Internal error occurred: failed calling webhook "down.contract.liqo.io": '
            "failed to call webhook: "
        )
        config = await asyncio.to_thread(admission.read_validating_webhook_configuration, name)
        config.webhooks[0].failure_policy = "Ignore"
        await asyncio.to_thread(admission.replace_validating_webhook_configuration, name, config)

        def accepted() -> bool:
            return refused() is None

        await asyncio.to_thread(wait_for, accepted, 30, "failurePolicy Ignore effective")
    finally:
        await asyncio.to_thread(admission.delete_validating_webhook_configuration, name)
