"""The API server check keeps one client per peer, renewed with its kubeconfig or on failure."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from liqo_core.api.consts import STATUS_ERROR, STATUS_ESTABLISHED
from liqo_core.kube import Kube
from liqo_core.peers import apiserver
from liqo_core.peers.apiserver import APIServerChecker
from liqo_core.testing.clusters import ClusterHandle


class Built:
    """Counts the clients the checker builds, and keeps them to see which are closed."""

    def __init__(self) -> None:
        self.clients: list[Kube] = []
        self.closed: list[Kube] = []

    async def build(self, kubeconfig: str, request_timeout: float = 5.0) -> Kube:
        kube = await Kube.from_kubeconfig(kubeconfig, request_timeout=request_timeout)
        self.clients.append(kube)
        close = kube.close

        async def closing() -> None:
            self.closed.append(kube)
            await close()

        kube.close = closing  # type: ignore[method-assign]
        return kube


@pytest.fixture
def kubeconfig(kube_cluster: ClusterHandle) -> str:
    return Path(kube_cluster.kubeconfig).read_text()


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Built:
    counter = Built()
    monkeypatch.setattr(apiserver, "client_for", counter.build)
    return counter


def _unreachable(kubeconfig: str) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    document = yaml.safe_load(kubeconfig)
    document["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    return str(yaml.safe_dump(document))


async def test_probes_reuse_one_client_until_the_kubeconfig_changes(
    kubeconfig: str, built: Built
) -> None:
    checker = APIServerChecker(interval=0.0)
    try:
        for _ in range(3):
            condition = await checker.check("peer-a", kubeconfig)
            assert condition is not None and condition.status == STATUS_ESTABLISHED
        assert len(built.clients) == 1 and not built.closed

        # A rotated kubeconfig gets a client of its own; the old one is closed.
        rotated = kubeconfig + "\n# rotated\n"
        condition = await checker.check("peer-a", rotated)
        assert condition is not None and condition.status == STATUS_ESTABLISHED
        assert len(built.clients) == 2
        await checker.check("peer-a", rotated)
        assert len(built.clients) == 2

        # Forgetting the peer closes its client.
        checker.forget("peer-a")
    finally:
        await checker.close()
    assert built.closed[:1] == [built.clients[0]]
    assert set(built.closed) == set(built.clients)


async def test_a_failed_probe_starts_afresh_and_close_closes_every_client(
    kubeconfig: str, built: Built
) -> None:
    checker = APIServerChecker(interval=0.0, timeout=2.0)
    try:
        gone = _unreachable(kubeconfig)
        for _ in range(2):
            condition = await checker.check("peer-b", gone)
            assert condition is not None and condition.status == STATUS_ERROR
        assert len(built.clients) == 2  # not kept after a failure
        ready = await checker.check("peer-c", kubeconfig)
        assert ready is not None and ready.status == STATUS_ESTABLISHED
        assert await checker.check("peer-d", None) is None
    finally:
        await checker.close()
    assert set(built.closed) == set(built.clients)
