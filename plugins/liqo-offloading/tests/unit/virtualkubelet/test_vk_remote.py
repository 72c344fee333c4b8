"""The provider client: the kubeconfig Secret, reconnection, the health check."""

from __future__ import annotations

import asyncio
import base64
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from liqo_offloading.virtualkubelet.node import NodeController
from liqo_offloading.virtualkubelet.remote import RemoteCluster, RemoteConfigError, kubeconfig_of

from liqo_core.kube import KubeError


def secret(token: str = "t1", **data: str) -> dict[str, Any]:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "p", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "p", "user": "u"}}],
        "current-context": "c",
    }
    encoded = base64.b64encode(yaml.safe_dump(config).encode()).decode()
    return {
        "metadata": {"name": "kc", "namespace": "tenant"},
        "data": data or {"kubeconfig": encoded},
    }


def test_the_secret_must_hold_a_kubeconfig() -> None:
    with pytest.raises(RemoteConfigError, match="Secret tenant/kc has no 'kubeconfig' key"):
        kubeconfig_of(secret(other="x"))
    with pytest.raises(RemoteConfigError, match="is not base64"):
        kubeconfig_of(secret(kubeconfig="***"))


async def test_a_new_kubeconfig_swaps_the_connection_in_place() -> None:
    remote = await RemoteCluster.from_secret(secret("t1"))
    kube, first = remote.kube, remote.kube.api
    try:
        assert await remote.refresh(secret("t1")) is False
        assert await remote.refresh(secret("t2")) is True
        assert remote.kube is kube and kube.api is not first
        assert kube.api.configuration.api_key["BearerToken"].endswith("t2")
        with pytest.raises(RemoteConfigError, match="unusable kubeconfig"):
            bad = base64.b64encode(b"clusters: 3").decode()
            await remote.refresh(secret(kubeconfig=bad))
        assert kube.api.configuration.api_key["BearerToken"].endswith("t2")
    finally:
        await remote.close()


class FakeKube:
    def __init__(self, outcome: BaseException | None) -> None:
        self.outcome = outcome

    async def request(self, method: str, path: str) -> dict[str, Any]:
        assert (method, path) == ("GET", "/livez")
        if isinstance(self.outcome, TimeoutError):
            await asyncio.sleep(10)
        if self.outcome is not None:
            raise self.outcome
        return {}


@pytest.mark.parametrize(
    ("outcome", "healthy"),
    [
        (None, True),
        (ValueError("plain text ok"), True),
        (KubeError(403, "Forbidden", "no"), True),
        (KubeError(401, "Unauthorized", "expired"), False),
        (KubeError(503, "ServiceUnavailable", "down"), False),
        (OSError("connection refused"), False),
        (TimeoutError(), False),
    ],
)
async def test_ping(outcome: BaseException | None, healthy: bool) -> None:
    remote = RemoteCluster(FakeKube(outcome), "", ping_timeout=0.05)  # type: ignore[arg-type]
    error = await remote.ping()
    assert (error is None) is healthy, error


async def test_the_foreign_cluster_api_server_status_wins_over_a_call() -> None:
    def controller(state: str | None, outcome: BaseException | None) -> Any:
        conditions = [{"type": "APIServerStatus", "status": state}] if state else []
        fc = SimpleNamespace(items=lambda: [{"status": {"conditions": conditions}}])
        remote = RemoteCluster(FakeKube(outcome), "", ping_timeout=0.05)  # type: ignore[arg-type]
        return SimpleNamespace(foreign_cluster=fc, remote=remote)

    check = NodeController.check_api_server
    assert await check(controller("Established", OSError("down"))) is None
    assert "APIServerStatus Error" in (await check(controller("Error", None)) or "")
    assert await check(controller(None, None)) is None
    assert await check(controller(None, OSError("down"))) is not None
