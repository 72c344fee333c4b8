"""Contract: ``kubectl auth whoami`` reports the identity behind each kind of credential."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from test_authn_helpers import service_account_token, token_kubeconfig

from liqo_core.testing.clusters import ClusterHandle

pytestmark = pytest.mark.contract


def whoami(cluster: ClusterHandle) -> dict[str, Any]:
    out = cluster.kubectl("auth", "whoami", "-o", "json")
    info: dict[str, Any] = json.loads(out.stdout)["status"]["userInfo"]
    return info


def test_kubectl_auth_whoami(kube_cluster: ClusterHandle, namespace: str, tmp_path: Path) -> None:
    assert "system:authenticated" in whoami(kube_cluster)["groups"]
    core: Any = client.CoreV1Api(kube_cluster.shared_client())
    token = service_account_token(core, namespace, "robot")
    robot = ClusterHandle("robot", token_kubeconfig(tmp_path / "robot.yaml", kube_cluster, token))
    info = whoami(robot)
    assert info["username"] == f"system:serviceaccount:{namespace}:robot"
    assert f"system:serviceaccounts:{namespace}" in info["groups"]


def test_kubectl_create_token(kube_cluster: ClusterHandle, namespace: str, tmp_path: Path) -> None:
    kube_cluster.kubectl("create", "serviceaccount", "bot", "-n", namespace)
    out = kube_cluster.kubectl("create", "token", "bot", "-n", namespace, "--duration", "10m")
    token = out.stdout.strip()
    bot = ClusterHandle("bot", token_kubeconfig(tmp_path / "bot.yaml", kube_cluster, token))
    assert whoami(bot)["username"] == f"system:serviceaccount:{namespace}:bot"
    denied = bot.kubectl("get", "secrets", "-n", namespace, check=False)
    assert denied.returncode != 0
    assert (
        f'secrets is forbidden: User "system:serviceaccount:{namespace}:bot" cannot list '
        f'resource "secrets" in API group "" in the namespace "{namespace}"'
    ) in denied.stderr
