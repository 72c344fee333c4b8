"""The emulator's CA, serving context and client-certificate authentication over real TLS."""

from __future__ import annotations

import base64
import datetime as dt
import ssl
import stat
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from test_security_memapi import MemoryAPI

from liqo_core.sandbox.apiserver.security import Security
from liqo_core.sandbox.apiserver.security.pki import IssuedCert, subject_name


async def serve(security: Security) -> tuple[web.AppRunner, int]:
    """An HTTPS server answering with who the security layer says the caller is."""

    async def whoami(request: web.Request) -> web.Response:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        user = security.authenticate(request.headers, der)
        if user is None:
            return web.json_response({"code": 401}, status=401)
        return web.json_response({"name": user.name, "groups": list(user.groups)})

    app = web.Application()
    app.router.add_get("/", whoami)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=security.server_ssl_context())
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


def client_ctx(security: Security, tmp: Path, issued: IssuedCert | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=security.ca_pem.decode())
    if issued is not None:
        (tmp / "c.crt").write_bytes(issued.cert_pem)
        (tmp / "c.key").write_bytes(issued.key_pem)
        ctx.load_cert_chain(tmp / "c.crt", tmp / "c.key")
    return ctx


async def call(
    port: int, ctx: ssl.SSLContext, host: str = "127.0.0.1", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"https://{host}:{port}/", ssl=ctx, headers=headers or {}) as resp,
    ):
        return resp.status, await resp.json()


async def test_tls_client_certificates(tmp_path: Path) -> None:
    security = Security(tmp_path / "state", "c1", MemoryAPI())
    runner, port = await serve(security)
    try:
        alice = security.issue_client_cert("alice", ["team-a", "team-b"])
        status, body = await call(port, client_ctx(security, tmp_path, alice))
        assert status == 200
        assert body == {"name": "alice", "groups": ["team-a", "team-b", "system:authenticated"]}
        # The serving certificate covers localhost too.
        assert (await call(port, client_ctx(security, tmp_path, alice), "localhost"))[0] == 200
        # No credentials at all: anonymous, as kube-apiserver's default.
        assert await call(port, client_ctx(security, tmp_path, None)) == (
            200,
            {"name": "system:anonymous", "groups": ["system:unauthenticated"]},
        )
        # Expired certificates pass TLS but do not authenticate (401, as kube-apiserver).
        expired = security.issue_client_cert("old", [], dt.timedelta(seconds=-30))
        assert (await call(port, client_ctx(security, tmp_path, expired)))[0] == 401
    finally:
        await runner.cleanup()


async def test_ca_and_credentials_survive_a_restart(tmp_path: Path) -> None:
    first = Security(tmp_path / "state", "c1", MemoryAPI())
    issued = first.issue_client_cert("bob", ["g"])
    key_file = tmp_path / "state" / "ca.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = Security(tmp_path / "state", "c1", MemoryAPI())
    assert second.ca_pem == first.ca_pem
    der = x509.load_pem_x509_certificate(issued.cert_pem).public_bytes(serialization.Encoding.DER)
    user = second.authenticate({}, der)
    assert user is not None and user.name == "bob"
    # A certificate of another cluster's CA is not accepted.
    other = Security(tmp_path / "other", "c2", MemoryAPI())
    assert other.authenticate({}, der) is None


def test_kubeconfigs(tmp_path: Path) -> None:
    security = Security(tmp_path / "state", "c1", MemoryAPI())
    security.write_kubeconfig(tmp_path / "admin.yaml", "https://127.0.0.1:6443")
    doc = yaml.safe_load((tmp_path / "admin.yaml").read_text())
    assert doc["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert stat.S_IMODE((tmp_path / "admin.yaml").stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(
        base64.b64decode(doc["users"][0]["user"]["client-certificate-data"])
    )
    assert cert.subject.rfc4514_string() == "CN=kubernetes-admin,O=system:masters"
    token = security.add_static_token("tom", ["ops"])
    security.write_token_kubeconfig(tmp_path / "tom.yaml", "https://127.0.0.1:6443", token, "tom")
    doc = yaml.safe_load((tmp_path / "tom.yaml").read_text())
    assert doc["users"][0]["user"]["token"] == token
    user = security.authenticate({"Authorization": f"Bearer {token}"}, None)
    assert user is not None
    assert (user.name, user.groups) == ("tom", ("ops", "system:authenticated"))


def test_a_bad_bearer_token_is_refused(tmp_path: Path) -> None:
    security = Security(tmp_path / "state", "c1", MemoryAPI())
    security.add_static_token("tom")
    assert security.authenticate({"Authorization": "Bearer nope"}, None) is None


@pytest.mark.parametrize("header", ["Basic Zm9vOmJhcg==", "Bearer ", ""])
def test_no_usable_credentials_is_anonymous(tmp_path: Path, header: str) -> None:
    """As kube-apiserver: only a presented bearer token or client certificate can fail."""
    security = Security(tmp_path / "state", "c1", MemoryAPI())
    user = security.authenticate({"Authorization": header} if header else {}, None)
    assert user is not None
    assert (user.name, user.groups) == ("system:anonymous", ("system:unauthenticated",))


async def test_ed25519_client_certificates(tmp_path: Path) -> None:
    """Liqo's identities use Ed25519 keys: such client certificates must authenticate."""
    security = Security(tmp_path / "state", "c1", MemoryAPI())
    runner, port = await serve(security)
    try:
        key = ed25519.Ed25519PrivateKey.generate()
        cert = security.ca.sign(
            subject_name("cluster-b", ["liqo.io"]), key.public_key(), dt.timedelta(hours=1)
        )
        issued = IssuedCert(
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        status, body = await call(port, client_ctx(security, tmp_path, issued))
        assert (status, body["name"]) == (200, "cluster-b")
    finally:
        await runner.cleanup()
