"""Contract: a kopf operator's own webhook server (kopf.WebhookServer) admits objects.

Kopf registers its Mutating/ValidatingWebhookConfigurations itself (``admission.managed``)
and answers AdmissionReviews with JSON patches; the API server must call it and apply them.
The server listens on 127.0.0.1 (see test_admission_contract for what that means on real
clusters); the handlers only match objects carrying this test's unique label.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from kubernetes import client
from test_admission_contract import serving_tls
from test_authn_helpers import status_of

from liqo_core.testing.clusters import ClusterHandle, unique_name

pytestmark = pytest.mark.contract


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connection(kubeconfig: Path) -> kopf.ConnectionInfo:
    """Kopf credentials from an admin kubeconfig (inline data or file paths)."""
    doc = yaml.safe_load(kubeconfig.read_text())
    ctx_name = doc["current-context"]
    ctx = next(c["context"] for c in doc["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in doc["users"] if u["name"] == ctx["user"])

    def data(key: str) -> bytes | None:
        if f"{key}-data" in user or f"{key}-data" in cluster:
            return base64.b64decode((user | cluster)[f"{key}-data"])
        path = (user | cluster).get(key)
        return Path(path).read_bytes() if path else None

    return kopf.ConnectionInfo(
        server=cluster["server"],
        ca_data=data("certificate-authority"),
        certificate_data=data("client-certificate"),
        private_key_data=data("client-key"),
        token=user.get("token"),
        scheme="Bearer" if user.get("token") else None,
    )


async def test_kopf_webhook_server_mutates_and_validates(
    kube_cluster: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    label = unique_name("kopf")
    managed = f"{label}.contract.liqo.io"
    registry = kopf.OperatorRegistry()
    selector = {"contract-test": label}

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection(kube_cluster.kubeconfig)

    @kopf.on.mutate("configmaps", labels=selector, registry=registry, id="stamp")
    def stamp(patch: kopf.Patch, **_: Any) -> None:
        patch.setdefault("metadata", {}).setdefault("annotations", {})["stamped-by"] = "kopf"

    @kopf.on.validate("configmaps", labels=selector, registry=registry, id="check")
    def check(body: kopf.Body, **_: Any) -> None:
        if "forbidden" in (body.get("data") or {}):
            raise kopf.AdmissionError("forbidden key", code=422)

    _, ca_pem = serving_tls(tmp_path)
    (tmp_path / "ca.crt").write_bytes(ca_pem)
    settings = kopf.OperatorSettings()
    settings.admission.managed = managed
    settings.admission.server = kopf.WebhookServer(
        addr="127.0.0.1",
        host="127.0.0.1",
        port=free_port(),
        certfile=tmp_path / "wh.crt",
        pkeyfile=tmp_path / "wh.key",
        cafile=tmp_path / "ca.crt",
    )
    settings.scanning.disabled = True
    stop = asyncio.Event()
    task = asyncio.create_task(
        kopf.operator(
            registry=registry,
            settings=settings,
            standalone=True,
            clusterwide=True,
            stop_flag=stop,
        )
    )
    api = kube_cluster.shared_client()
    core: Any = client.CoreV1Api(api)
    admission: Any = client.AdmissionregistrationV1Api(api)
    try:

        def create(name: str, data: dict[str, str]) -> Any:
            body = {"metadata": {"name": name, "labels": selector}, "data": data}
            return core.create_namespaced_config_map(namespace, body)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while True:  # kopf registers its webhooks asynchronously: poll for the effect
            assert not task.done(), task.exception() if task.done() else None
            made = await asyncio.to_thread(create, unique_name("cm"), {"ok": "1"})
            if (made.metadata.annotations or {}).get("stamped-by") == "kopf":
                break
            assert loop.time() < deadline, "kopf's mutating webhook never took effect"
            await asyncio.sleep(0.2)
        with pytest.raises(client.ApiException) as err:
            while True:
                await asyncio.to_thread(create, unique_name("bad"), {"forbidden": "x"})
                assert loop.time() < deadline, "kopf's validating webhook never took effect"
                await asyncio.sleep(0.2)
        assert err.value.status == 422
        assert "forbidden key" in status_of(err.value)["message"]
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
        for kind in ("validating", "mutating"):
            with contextlib.suppress(client.ApiException):
                await asyncio.to_thread(
                    getattr(admission, f"delete_{kind}_webhook_configuration"), managed
                )
