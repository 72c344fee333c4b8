"""kubernetes_asyncio: CRUD and watch through the asynchronous client."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes_asyncio import client, config, watch

pytestmark = pytest.mark.contract


async def test_asyncio_client_creates_lists_and_watches(kube_cluster, namespace):
    api = await config.new_client_from_config(config_file=str(kube_cluster.kubeconfig))
    async with api:
        core = client.CoreV1Api(api)
        listed = await core.list_namespaced_config_map(namespace)
        rv = listed.metadata.resource_version
        await core.create_namespaced_config_map(
            namespace, {"metadata": {"name": "async-cm"}, "data": {"k": "v"}}
        )
        got = await core.read_namespaced_config_map("async-cm", namespace)
        assert got.data == {"k": "v"}
        seen = []
        w = watch.Watch()
        async with asyncio.timeout(20):
            async for event in w.stream(
                core.list_namespaced_config_map,
                namespace,
                resource_version=rv,
                timeout_seconds=10,
            ):
                seen.append((event["type"], event["object"].metadata.name))
                break
        w.stop()
        assert seen == [("ADDED", "async-cm")]
