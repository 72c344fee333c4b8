"""The module's handlers share their event loop's API client instead of building one per call."""

from __future__ import annotations

from liqo_auth.kube import operator_api

from liqo_core.kube import KubeTarget, close_clients
from liqo_core.testing.clusters import ClusterHandle


async def test_operator_api_hands_out_one_shared_client_per_target(
    kube_cluster: ClusterHandle,
) -> None:
    target = KubeTarget(kubeconfig=kube_cluster.kubeconfig)
    try:
        async with operator_api(target) as first:
            assert await first.get("/api/v1/namespaces/default") is not None
        async with operator_api(target) as second, operator_api(target) as third:
            assert second is first and third is first
            assert await second.get("/api/v1/namespaces/kube-system") is not None
    finally:
        await close_clients()
