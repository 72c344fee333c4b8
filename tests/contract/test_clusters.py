"""The cluster fixtures: several clusters are independent API servers."""

from __future__ import annotations

import pytest
from kubernetes import client

from liqo_core.testing.clusters import unique_name

pytestmark = pytest.mark.contract


def test_two_clusters_do_not_share_objects(kube_clusters):
    first, second = kube_clusters(2)
    assert first.kubeconfig != second.kubeconfig
    name = unique_name("only-in-first")
    core1 = client.CoreV1Api(first.api_client())
    core2 = client.CoreV1Api(second.api_client())
    core1.create_namespace({"metadata": {"name": name}})
    try:
        with pytest.raises(client.ApiException) as err:
            core2.read_namespace(name)
        assert err.value.status == 404
    finally:
        core1.delete_namespace(name)


def test_namespace_fixture_gives_an_active_namespace(kube_cluster, namespace):
    ns = client.CoreV1Api(kube_cluster.api_client()).read_namespace(namespace)
    assert ns.status.phase == "Active"
