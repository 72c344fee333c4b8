"""kubectl's typed commands (their bodies are protobuf on the wire)."""

from __future__ import annotations

import base64

import orjson
import pytest

from liqo_core.testing.clusters import unique_name

pytestmark = pytest.mark.contract


def _get(cluster, *args):
    return orjson.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def test_kubectl_create_configmap_from_literals(kube_cluster, namespace):
    kube_cluster.kubectl(
        "create", "configmap", "lit", "-n", namespace, "--from-literal=a=1", "--from-literal=b=2"
    )
    assert _get(kube_cluster, "cm", "lit", "-n", namespace)["data"] == {"a": "1", "b": "2"}


def test_kubectl_create_secret_keeps_type_and_data(kube_cluster, namespace):
    kube_cluster.kubectl(
        "create",
        "secret",
        "generic",
        "sec",
        "-n",
        namespace,
        "--from-literal=user=admin",
        "--type=example.com/basic",
    )
    secret = _get(kube_cluster, "secret", "sec", "-n", namespace)
    assert secret["type"] == "example.com/basic"
    assert base64.b64decode(secret["data"]["user"]) == b"admin"


def test_kubectl_create_namespace_and_serviceaccount(kube_cluster):
    name = unique_name("typed")
    kube_cluster.kubectl("create", "namespace", name)
    try:
        kube_cluster.kubectl("create", "serviceaccount", "robot", "-n", name)
        sa = _get(kube_cluster, "sa", "robot", "-n", name)
        assert sa["metadata"]["namespace"] == name
        ns = _get(kube_cluster, "namespace", name)
        assert ns["status"]["phase"] == "Active"
        assert "generateName" not in ns["metadata"]
    finally:
        kube_cluster.kubectl("delete", "namespace", name, "--wait=false")


def test_kubectl_create_token_for_a_serviceaccount(kube_cluster, namespace):
    kube_cluster.kubectl("create", "serviceaccount", "tok", "-n", namespace)
    token = kube_cluster.kubectl("create", "token", "tok", "-n", namespace, "--duration=10m")
    assert token.stdout.count(".") == 2


def test_kubectl_auth_can_i_as_admin(kube_cluster, namespace):
    out = kube_cluster.kubectl("auth", "can-i", "create", "pods", "-n", namespace)
    assert out.stdout.strip() == "yes"
