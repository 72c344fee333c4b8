"""The informer the sandbox's controllers use, against a cluster, large objects included."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from liqo_core.kube import Informer, Kube, KubeError, KubeTarget
from liqo_core.testing.clusters import ClusterHandle

pytestmark = pytest.mark.e2e


async def test_informer_sees_adds_updates_and_deletes(
    kube_cluster: ClusterHandle, namespace: str
) -> None:
    kube = await Kube.from_target(
        KubeTarget(kubeconfig=Path(kube_cluster.kubeconfig)), request_timeout=30.0
    )
    informer = Informer(kube, f"/api/v1/namespaces/{namespace}/configmaps")
    seen: list[tuple[str, str, int]] = []
    changed = asyncio.Event()

    def handler(kind: str, obj: dict[str, Any]) -> None:
        seen.append((kind, obj["metadata"]["name"], len((obj.get("data") or {}).get("blob", ""))))
        changed.set()

    informer.add_handler(handler)
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 10)
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        big = "x" * 300_000
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "big"},
            "data": {"blob": big},
        }
        await kube.request("POST", path, body)
        await kube.merge_patch(f"{path}/big", {"data": {"blob": "small"}})
        await kube.delete(f"{path}/big")

        async def until(expected: tuple[str, str, int]) -> None:
            while expected not in seen:
                changed.clear()
                await changed.wait()

        await asyncio.wait_for(until(("ADDED", "big", 300_000)), 10)
        await asyncio.wait_for(until(("MODIFIED", "big", 5)), 10)
        await asyncio.wait_for(until(("DELETED", "big", 5)), 10)
        assert "big" not in {key.split("/")[-1] for key in informer.cache}
        with pytest.raises(KubeError) as err:
            await kube.request("GET", f"{path}/big")
        assert err.value.status == 404
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await kube.close()
