"""Admission webhooks dialed from another network namespace (``--webhook-netns``), as
kube-apiserver dials them from its control-plane node: a webhook only reachable inside a
namespace is called, and a missing namespace is a clear webhook-call failure."""

from __future__ import annotations

import base64
import secrets
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from test_security_memapi import MemoryAPI

from liqo_core.sandbox.apiserver.netns import NetnsSockets
from liqo_core.sandbox.apiserver.security import admission as admission_module
from liqo_core.sandbox.apiserver.security.admission import Admission
from liqo_core.sandbox.apiserver.security.pki import CertificateAuthority
from liqo_core.sandbox.apiserver.types import (
    AdmissionAttributes,
    AdmissionDenied,
    ResourceType,
    UserInfo,
)

CM = ResourceType("", "v1", "configmaps", "ConfigMap", True)
ATTRS = AdmissionAttributes(UserInfo("alice", (), ""), "CREATE", CM, "", "ns1", "c", False)
OBJ = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns1"}}
#: The node's own address inside the test namespace (not routed from the host).
NODE_IP = "198.18.233.1"


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh network namespace with its loopback up and :data:`NODE_IP` on it; its
    /run/netns path."""
    name = f"lsbtest-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", name, "addr", "add", f"{NODE_IP}/32", "dev", "lo"], check=True)
        yield f"/var/run/netns/{name}"
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


async def _serve_in(netns: str, tmp_path: Path, seen: list[dict[str, Any]]) -> tuple[Any, int, str]:
    ca = CertificateAuthority(tmp_path / "ca", "webhooks")
    issued = ca.issue_serving([NODE_IP])
    (tmp_path / "s.crt").write_bytes(issued.cert_pem)
    (tmp_path / "s.key").write_bytes(issued.key_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "s.crt", tmp_path / "s.key")

    async def review(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body)
        response = {"uid": body["request"]["uid"], "allowed": False, "status": {"message": "no"}}
        return web.json_response({"apiVersion": "admission.k8s.io/v1", "response": response})

    app = web.Application()
    app.router.add_post("/{path:.*}", review)
    runner = web.AppRunner(app)
    await runner.setup()
    sockets = NetnsSockets(netns)
    listener = sockets.listen(NODE_IP, 0)
    sockets.close()
    port = int(listener.getsockname()[1])
    await web.SockSite(runner, listener, ssl_context=context).start()
    return runner, port, base64.b64encode(ca.pem).decode()


async def _configure(api: MemoryAPI, port: int, bundle: str) -> None:
    hook = {
        "name": "ns.example.com",
        "clientConfig": {"url": f"https://{NODE_IP}:{port}/check", "caBundle": bundle},
        "rules": [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["configmaps"],
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    body = {"metadata": {"name": "cfg"}, "webhooks": [hook]}
    await api.create("admissionregistration.k8s.io", "validatingwebhookconfigurations", body)


async def test_webhooks_are_dialed_from_the_given_network_namespace(
    netns: str, tmp_path: Path
) -> None:
    seen: list[dict[str, Any]] = []
    runner, port, bundle = await _serve_in(netns, tmp_path, seen)
    try:
        api = MemoryAPI()
        await _configure(api, port, bundle)
        inside = Admission(api, lambda a: (False, ""), webhook_netns=netns)
        with pytest.raises(AdmissionDenied) as err:
            await inside.validate(ATTRS, OBJ, None)
        assert err.value.message == 'admission webhook "ns.example.com" denied the request: no'
        assert len(seen) == 1
        # The address is the node's own: from the host the webhook is not reachable.
        outside = Admission(api, lambda a: (False, ""))
        with pytest.raises(AdmissionDenied) as err:
            await outside.validate(ATTRS, OBJ, None)
        assert "failed calling webhook" in err.value.message and len(seen) == 1
    finally:
        await runner.cleanup()


async def test_a_missing_namespace_is_a_webhook_call_failure(tmp_path: Path) -> None:
    api = MemoryAPI()
    await _configure(api, 443, "")
    missing = "/var/run/netns/lsbtest-missing"
    chain = Admission(api, lambda a: (False, ""), webhook_netns=missing)
    with pytest.raises(AdmissionDenied) as err:
        await chain.validate(ATTRS, OBJ, None)
    assert err.value.code == 500
    assert 'failed calling webhook "ns.example.com"' in err.value.message
    assert missing in err.value.message


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("https://127.0.0.1:9443/validate", True),
        ("https://127.3.0.1/x", True),
        ("https://[::1]:443/x", True),
        ("https://localhost:8443/x", True),
        ("https://10.96.0.10:443/x", False),
        ("https://webhook.liqo.svc:443/x", False),
    ],
)
def test_loopback_webhooks_are_dialled_from_the_api_servers_own_network(
    url: str, loopback: bool
) -> None:
    # The emulator listens on the host's loopback: a loopback URL is its own, so it is not
    # dialled from the control-plane node's namespace (whose loopback is another).
    assert admission_module._is_loopback(url) is loopback
