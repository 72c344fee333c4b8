"""Kubeconfigs for arbitrary users, written from outside a running emulator process."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from liqo_core.sandbox.apiserver.cluster import EmulatedCluster
from liqo_core.sandbox.apiserver.security import (
    write_static_token_kubeconfig,
    write_user_kubeconfig,
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatedCluster]:
    emu = EmulatedCluster("sec", tmp_path_factory.mktemp("sec-cluster"))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def whoami(kubeconfig: Path) -> dict[str, object]:
    out = kubectl(kubeconfig, "auth", "whoami", "-o", "json")
    assert out.returncode == 0, out.stderr
    info: dict[str, object] = json.loads(out.stdout)["status"]["userInfo"]
    return info


def test_client_certificate_kubeconfig(cluster: EmulatedCluster, tmp_path: Path) -> None:
    path = tmp_path / "alice.yaml"
    write_user_kubeconfig(
        cluster.state_dir, cluster.name, path, cluster.server_url, user="alice", groups=["dev"]
    )
    assert whoami(path) == {"username": "alice", "groups": ["dev", "system:authenticated"]}
    denied = kubectl(path, "get", "pods", "-n", "default")
    assert denied.returncode == 1
    assert (
        'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the '
        'namespace "default"'
    ) in denied.stderr


def test_static_token_kubeconfig(cluster: EmulatedCluster, tmp_path: Path) -> None:
    path = tmp_path / "tom.yaml"
    token = write_static_token_kubeconfig(
        cluster.state_dir, cluster.name, path, cluster.server_url, user="tom", groups=["ops"]
    )
    assert token
    info = whoami(path)
    assert info["username"] == "tom"
    assert info["groups"] == ["ops", "system:authenticated"]
    assert kubectl(path, "auth", "can-i", "list", "pods").stdout.strip() == "no"
