"""The ``serviceaccount-token`` identity provider, token storage and RBAC subjects, against an
API server (the emulated one, or a real cluster through ``LIQO_TEST_KUBECONFIGS``)."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from liqo_auth import tokens
from liqo_auth.bindings import CLUSTER_ROLE_BINDINGS_PATH, bind_consumer, role_bindings_path
from liqo_auth.identity import build_kubeconfig
from liqo_auth.kube import secrets_path
from liqo_auth.names import (
    CERTIFICATE_KEY,
    REMOTE_CERTIFICATE_SECRET,
    REMOTE_CONTROLPLANE_ROLE,
    VIRTUAL_KUBELET_CLUSTERWIDE_ROLE,
)
from liqo_auth.providers.kubernetes_csr import KubernetesCSRProvider
from liqo_auth.providers.serviceaccount_token import (
    ServiceAccountTokenProvider,
    service_account_name,
)

from liqo_core.api.authentication_v1beta1 import AuthParams, IdentitySpec
from liqo_core.api.consts import IDENTITY_TYPE_LABEL, K8S_APP_NAME_LABEL, REMOTE_CLUSTER_ID_LABEL
from liqo_core.identity import CredentialRequest, IssuedCredential
from liqo_core.kube import Kube, KubeError, KubeTarget
from liqo_core.testing.clusters import ClusterHandle, unique_name

SELF_SUBJECT_REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


@pytest.fixture
async def api(kube_cluster: ClusterHandle) -> AsyncIterator[Kube]:
    async with await Kube.from_target(KubeTarget(kubeconfig=kube_cluster.kubeconfig)) as kube:
        yield kube


def control_plane(consumer: str, namespace: str) -> CredentialRequest:
    return CredentialRequest(consumer, "ControlPlane", consumer, namespace, consumer, ())


def slice_request(consumer: str, namespace: str, name: str) -> CredentialRequest:
    return CredentialRequest(
        consumer, "ResourceSlice", name, namespace, f"{name}-0a1b2c", (consumer,)
    )


def token_kubeconfig(cluster: ClusterHandle, token: str, path: Path) -> Path:
    """A kubeconfig for ``cluster`` with ``token``, as the identity controller writes it."""
    admin = yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]
    ca = (
        admin.get("certificate-authority-data")
        or base64.b64encode(Path(admin["certificate-authority"]).read_bytes()).decode()
    )
    params = AuthParams(ca=ca, api_server=admin["server"], token=token)
    spec = IdentitySpec(cluster_id="provider", type="ControlPlane", auth_params=params)
    text = build_kubeconfig(spec, None, "consumer")
    assert yaml.safe_load(text)["users"][0]["user"] == {"token": token}
    path.write_text(text)
    return path


async def whoami(cluster: ClusterHandle, token: str, tmp_path: Path) -> str:
    path = token_kubeconfig(cluster, token, tmp_path / f"{unique_name('kcfg')}.yaml")
    async with await Kube.from_target(KubeTarget(kubeconfig=path)) as kube:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        review = await kube.request("POST", SELF_SUBJECT_REVIEWS, body)
    return str(review["status"]["userInfo"]["username"])


async def test_issue_creates_a_labelled_service_account_whose_token_authenticates(
    api: Kube, kube_cluster: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    consumer = unique_name("consumer")
    request = control_plane(consumer, namespace)
    before = datetime.now(UTC)
    issued = await ServiceAccountTokenProvider(900).issue(api, request)
    assert issued.signed_crt is None and issued.token
    assert issued.not_before <= before
    assert abs((issued.not_after - before).total_seconds() - 900) < 60

    account = await api.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/liqo-{consumer}")
    assert account is not None
    labels = account["metadata"]["labels"]
    assert labels[REMOTE_CLUSTER_ID_LABEL] == consumer
    assert labels[IDENTITY_TYPE_LABEL] == "ControlPlane"
    user = await whoami(kube_cluster, issued.token, tmp_path)
    assert user == f"system:serviceaccount:{namespace}:liqo-{consumer}"


async def test_issuing_again_reuses_the_service_account(
    api: Kube, kube_cluster: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    consumer = unique_name("consumer")
    provider = ServiceAccountTokenProvider()
    first = await provider.issue(api, control_plane(consumer, namespace))
    second = await provider.issue(api, control_plane(consumer, namespace))
    selector = f"{REMOTE_CLUSTER_ID_LABEL}={consumer}"
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts"
    assert [a["metadata"]["name"] for a in await api.list_items(path, selector)] == [
        f"liqo-{consumer}"
    ]
    for issued in (first, second):
        assert issued.token is not None
        assert (await whoami(kube_cluster, issued.token, tmp_path)).endswith(f":liqo-{consumer}")


async def test_revoke_deletes_the_service_account_and_its_tokens(
    api: Kube, kube_cluster: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    consumer = unique_name("consumer")
    provider = ServiceAccountTokenProvider()
    request = slice_request(consumer, namespace, "slice-a")
    issued = await provider.issue(api, request)
    assert issued.token is not None
    await provider.revoke(api, request)
    name = service_account_name(request)
    assert await api.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}") is None
    with pytest.raises(KubeError) as refused:
        await whoami(kube_cluster, issued.token, tmp_path)
    assert refused.value.status == 401
    await provider.revoke(api, request)  # already gone: nothing to do


def test_subjects_are_the_service_account_without_groups() -> None:
    request = slice_request("cons", "liqo-tenant-cons", "slice-a")
    assert ServiceAccountTokenProvider().subjects(request) == [
        {"kind": "ServiceAccount", "name": "liqo-slice-a-0a1b2c", "namespace": "liqo-tenant-cons"}
    ]


@pytest.mark.parametrize("user", ["Upper.Case_user", "x" * 80, "ok-" + "y" * 60])
def test_service_account_names_are_dns_labels(user: str) -> None:
    request = CredentialRequest("c", "ResourceSlice", "s", "ns", user, ("c",))
    name = service_account_name(request)
    assert name.startswith("liqo-") and len(name) <= 63 and DNS_LABEL.match(name)
    other = service_account_name(replace(request, user=user + "z"))
    assert other != name


def test_lifetime_defaults_to_an_hour_and_respects_the_api_minimum() -> None:
    assert ServiceAccountTokenProvider().expiration_seconds == 3600
    assert ServiceAccountTokenProvider(60).expiration_seconds == 600
    assert ServiceAccountTokenProvider(86400.0).expiration_seconds == 86400


async def test_a_stored_token_is_reused_only_for_its_key_and_until_renewal(
    api: Kube, namespace: str
) -> None:
    now = datetime.now(UTC)
    secret = secrets_path(namespace, REMOTE_CERTIFICATE_SECRET)
    certificate = {CERTIFICATE_KEY: base64.b64encode(b"old certificate").decode()}
    await api.create(
        secrets_path(namespace),
        {"metadata": {"name": REMOTE_CERTIFICATE_SECRET}, "data": certificate},
    )
    fresh = IssuedCredential(now - timedelta(seconds=5), now + timedelta(hours=1), token="tok-1")
    assert await tokens.store_token(api, namespace, "cons", fresh, b"key-1") == "tok-1"
    stored = await api.get(secret)
    assert stored is not None and CERTIFICATE_KEY not in stored["data"]
    assert stored["metadata"]["labels"] == {REMOTE_CLUSTER_ID_LABEL: "cons"}
    assert base64.b64decode(stored["data"][tokens.TOKEN_KEY]) == b"tok-1"
    found = await tokens.stored_token(api, namespace, b"key-1", None)
    assert found is not None and found.token == "tok-1" and found.renew_at > time.time()
    assert await tokens.stored_token(api, namespace, b"key-2", None) is None

    due = IssuedCredential(now - timedelta(hours=1), now + timedelta(minutes=5), token="tok-2")
    await tokens.store_token(api, namespace, "cons", due, b"key-1")
    due_found = await tokens.stored_token(api, namespace, b"key-1", None)
    assert due_found is not None and due_found.renew_at <= time.time()


@pytest.fixture
def cluster_roles(kube_cluster: ClusterHandle) -> Iterator[None]:
    """Labelled ClusterRoles for ``bind_consumer`` to find (unless the chart's exist)."""
    suffix = unique_name("roles")
    created = []
    for app in (REMOTE_CONTROLPLANE_ROLE, VIRTUAL_KUBELET_CLUSTERWIDE_ROLE):
        name = f"test-{app}-{suffix}"
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name, "labels": {K8S_APP_NAME_LABEL: app}},
            "rules": [],
        }
        kube_cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(role))
        created.append(name)
    yield
    for name in created:
        kube_cluster.kubectl("delete", "clusterrole", name, check=False)


@pytest.mark.usefixtures("cluster_roles")
async def test_token_bindings_name_service_accounts_and_each_group_member(
    api: Kube, namespace: str
) -> None:
    consumer = unique_name("consumer")
    provider = ServiceAccountTokenProvider()
    selector = f"{REMOTE_CLUSTER_ID_LABEL}={consumer}"
    try:
        await bind_consumer(api, provider, control_plane(consumer, namespace), control_plane=True)
        [binding] = await api.list_items(role_bindings_path(namespace), selector)
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": f"liqo-{consumer}", "namespace": namespace}
        ]
        # The control plane is no member of the consumer's group: nothing cluster-wide.
        assert await api.list_items(CLUSTER_ROLE_BINDINGS_PATH, selector) == []

        member = slice_request(consumer, namespace, "slice-a")
        await bind_consumer(api, provider, member, control_plane=False)
        await bind_consumer(api, provider, member, control_plane=False)  # idempotent
        [clusterwide] = await api.list_items(CLUSTER_ROLE_BINDINGS_PATH, selector)
        assert clusterwide["metadata"]["name"].endswith(f"-{consumer}-slice-a")
        assert clusterwide["subjects"] == provider.subjects(member)
    finally:
        for binding in await api.list_items(CLUSTER_ROLE_BINDINGS_PATH, selector):
            await api.delete(f"{CLUSTER_ROLE_BINDINGS_PATH}/{binding['metadata']['name']}")


@pytest.mark.usefixtures("cluster_roles")
async def test_certificate_bindings_keep_upstream_user_and_group(api: Kube, namespace: str) -> None:
    consumer = unique_name("consumer")
    selector = f"{REMOTE_CLUSTER_ID_LABEL}={consumer}"
    rbac = "rbac.authorization.k8s.io"
    try:
        request = control_plane(consumer, namespace)
        await bind_consumer(api, KubernetesCSRProvider(), request, control_plane=True)
        [binding] = await api.list_items(role_bindings_path(namespace), selector)
        assert binding["subjects"] == [{"kind": "User", "name": consumer, "apiGroup": rbac}]
        [clusterwide] = await api.list_items(CLUSTER_ROLE_BINDINGS_PATH, selector)
        assert clusterwide["metadata"]["name"].endswith(f"-{consumer}")
        assert clusterwide["subjects"] == [{"kind": "Group", "name": consumer, "apiGroup": rbac}]
    finally:
        for binding in await api.list_items(CLUSTER_ROLE_BINDINGS_PATH, selector):
            await api.delete(f"{CLUSTER_ROLE_BINDINGS_PATH}/{binding['metadata']['name']}")
