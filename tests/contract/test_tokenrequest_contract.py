"""Contract: bearer tokens, TokenRequest and ServiceAccount identity, as on Kubernetes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from test_authn_helpers import (
    api_client,
    service_account_token,
    status_of,
    token_kubeconfig,
    wait_for,
    whoami,
)

from liqo_core.testing.clusters import ClusterHandle

pytestmark = pytest.mark.contract


def test_unknown_bearer_token_is_401(kube_cluster: ClusterHandle, tmp_path: Path) -> None:
    api = api_client(token_kubeconfig(tmp_path / "bad", kube_cluster, "not-a-real-token"))
    with pytest.raises(client.ApiException) as err:
        client.CoreV1Api(api).list_namespace()
    assert err.value.status == 401


def test_token_request_identifies_the_service_account(
    kube_cluster: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    core: Any = client.CoreV1Api(kube_cluster.shared_client())
    token = service_account_token(core, namespace, "robot", seconds=600)
    api = api_client(token_kubeconfig(tmp_path / "robot", kube_cluster, token))
    me = whoami(api)
    assert me["username"] == f"system:serviceaccount:{namespace}:robot"
    assert set(me["groups"]) >= {
        "system:serviceaccounts",
        f"system:serviceaccounts:{namespace}",
        "system:authenticated",
    }


def test_token_request_expiration(kube_cluster: ClusterHandle, namespace: str) -> None:
    core: Any = client.CoreV1Api(kube_cluster.shared_client())
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "robot"}})
    body: dict[str, Any] = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 900},
    }
    out = core.create_namespaced_service_account_token("robot", namespace, body)
    remaining = (out.status.expiration_timestamp - datetime.now(UTC)).total_seconds()
    assert 840 <= remaining <= 905
    body["spec"]["expirationSeconds"] = 599
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_service_account_token("robot", namespace, body)
    assert err.value.status == 422
    assert "may not specify a duration less than 10 minutes" in status_of(err.value)["message"]


def test_deleting_the_service_account_revokes_its_tokens(
    kube_cluster: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    core: Any = client.CoreV1Api(kube_cluster.shared_client())
    token = service_account_token(core, namespace, "gone")
    robot: Any = client.AuthenticationV1Api(
        api_client(token_kubeconfig(tmp_path / "gone", kube_cluster, token))
    )
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    robot.create_self_subject_review(body)
    core.delete_namespaced_service_account("gone", namespace)

    def rejected() -> bool:
        try:
            robot.create_self_subject_review(body)
        except client.ApiException as exc:
            return bool(exc.status == 401)
        return False

    wait_for(rejected, what="token rejected after ServiceAccount deletion")


def test_new_namespaces_get_a_default_service_account(
    kube_cluster: ClusterHandle, namespace: str
) -> None:
    core: Any = client.CoreV1Api(kube_cluster.shared_client())

    def default_sa() -> bool:
        try:
            core.read_namespaced_service_account("default", namespace)
        except client.ApiException as exc:
            assert exc.status == 404
            return False
        return True

    wait_for(default_sa, what="default ServiceAccount")
