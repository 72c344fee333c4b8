"""The typed client over Liqo's CR models, against a cluster."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from liqo_core.api import crd_manifest
from liqo_core.api.authentication_v1beta1 import Tenant, TenantSpec, TenantStatus
from liqo_core.api.core_v1beta1 import ForeignCluster, ForeignClusterSpec
from liqo_core.api.meta import ObjectMeta
from liqo_core.kube import Kube, KubeError, KubeTarget, ResourceClient
from liqo_core.testing.clusters import ClusterHandle

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@pytest.fixture
async def kube(kube_cluster: ClusterHandle) -> AsyncIterator[Kube]:
    client = await Kube.from_target(
        KubeTarget(kubeconfig=Path(kube_cluster.kubeconfig)), request_timeout=30.0
    )
    try:
        for model in (Tenant, ForeignCluster):
            await client.create(CRDS, crd_manifest(model))  # None: installed already
        async with asyncio.timeout(30):
            for model in (Tenant, ForeignCluster):
                path = ResourceClient(client, model).path()
                while True:
                    try:
                        await client.request("GET", path)
                        break
                    except KubeError as err:  # not served yet
                        if err.status != 404:
                            raise
                        await asyncio.sleep(0.1)
        yield client
    finally:
        await client.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_namespaced_kind_round_trips_as_models(kube: Kube, namespace: str) -> None:
    tenants = ResourceClient(kube, Tenant, namespace=namespace)
    name = unique("consumer")
    tenant = Tenant(
        metadata=ObjectMeta(name=name, labels={"suite": "kube"}),
        spec=TenantSpec(cluster_id=name, authz_policy="TolerateNoHandshake"),
    )
    created = await tenants.create(tenant)
    assert isinstance(created, Tenant)
    assert created.metadata.uid and created.metadata.namespace == namespace
    assert created.spec.cluster_id == name
    with pytest.raises(KubeError) as err:
        await tenants.create(tenant)
    assert err.value.status == 409

    got = await tenants.get(name)
    assert got is not None and got.metadata.uid == created.metadata.uid
    assert await tenants.get("absent") is None
    assert [t.metadata.name for t in await tenants.list(label_selector="suite=kube")] == [name]
    assert await tenants.list(label_selector="suite=other") == []

    patched = await tenants.patch(created, {"spec": {"tenantCondition": "Cordoned"}})
    assert patched.spec.tenant_condition == "Cordoned"
    with_status = await tenants.patch_status(name, TenantStatus(tenant_namespace="tenant-ns"))
    assert with_status.status is not None and with_status.status.tenant_namespace == "tenant-ns"

    stale = got.model_copy(deep=True)
    stale.spec.tenant_condition = "Drained"
    with pytest.raises(KubeError) as err:
        await tenants.update(stale)  # its resourceVersion is old: compare-and-swap fails
    assert err.value.status == 409
    fresh = await tenants.get(name)
    assert fresh is not None
    fresh.spec.tenant_condition = "Drained"
    assert (await tenants.update(fresh)).spec.tenant_condition == "Drained"

    assert await tenants.delete(name)
    assert not await tenants.delete(name)
    assert await tenants.get(name) is None


async def test_cluster_scoped_kind_and_server_side_apply(kube: Kube) -> None:
    clusters = ResourceClient(kube, ForeignCluster)
    name = unique("peer")
    assert clusters.path(name) == f"/apis/core.liqo.io/v1beta1/foreignclusters/{name}"
    desired = ForeignCluster(
        metadata=ObjectMeta(name=name, labels={"owner": "a"}),
        spec=ForeignClusterSpec(cluster_id=name),
    )
    try:
        applied = await clusters.apply(desired, field_manager="test-a")
        assert applied.metadata.labels == {"owner": "a"}
        desired.metadata.labels = {"owner": "b"}
        again = await clusters.apply(desired, field_manager="test-a")
        assert again.metadata.labels == {"owner": "b"}
        assert again.metadata.uid == applied.metadata.uid
        everything = await clusters.list()
        assert name in {fc.metadata.name for fc in everything}
    finally:
        await clusters.delete(name)


def test_a_namespaced_object_needs_a_namespace() -> None:
    client = ResourceClient(cast(Kube, None), Tenant)  # paths need no connection
    base = "/apis/authentication.liqo.io/v1beta1"
    assert client.path() == f"{base}/tenants"
    assert client.path("t", namespace="ns") == f"{base}/namespaces/ns/tenants/t"
    with pytest.raises(ValueError, match="a namespace is needed"):
        client.path("x")
