"""The ForeignCluster reconciler against an in-memory API: create, derive, remove."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from typing import Any

import kopf
import pytest

from liqo_core import LiqoSettings, load_runtime
from liqo_core.kube import Kube, KubeTarget
from liqo_core.peers import (
    ModulePeerStatus,
    PeerCondition,
    PeerStatusSource,
    WatchedResource,
    controller,
)
from liqo_core.peers.controller import (
    FOREIGN_CLUSTERS,
    ForeignClusterReconciler,
    foreign_cluster_path,
    known_peers,
)


class FakeKube:
    """Just enough of :class:`liqo_core.kube.Kube` for the reconciler."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.lists: dict[str, list[dict[str, Any]]] = {}
        self.patches = 0

    async def get(self, path: str) -> dict[str, Any] | None:
        found = self.objects.get(path)
        return copy.deepcopy(found) if found else None

    async def create(self, collection: str, body: dict[str, Any]) -> dict[str, Any] | None:
        path = f"{collection}/{body['metadata']['name']}"
        if path in self.objects:
            return None
        body = copy.deepcopy(body)
        body["metadata"].update(uid=f"uid-{len(self.objects)}", generation=1)
        self.objects[path] = body
        return copy.deepcopy(body)

    async def delete(self, path: str, options: dict[str, Any] | None = None) -> bool:
        return self.objects.pop(path, None) is not None

    async def json_patch(self, path: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        [operation] = operations
        target = self.objects[path.removesuffix("/status")]
        target["status"] = copy.deepcopy(operation["value"])
        self.patches += 1
        return target

    async def list_items(self, path: str, label_selector: str | None = None) -> list[Any]:
        if path == FOREIGN_CLUSTERS:
            return [copy.deepcopy(o) for p, o in self.objects.items() if p.startswith(path)]
        return self.lists.get(path, [])


class Peers:
    """A fake module source: which peers have a Tenant."""

    def __init__(self) -> None:
        self.consumers: set[str] = set()

    async def status(self, api: Kube, peer: str) -> ModulePeerStatus:
        if peer not in self.consumers:
            return ModulePeerStatus()
        ready = PeerCondition("AuthTenantStatus", "Ready", "TenantReady")
        return ModulePeerStatus(in_use=True, consumer=True, conditions=[ready])


@pytest.fixture
def world() -> tuple[FakeKube, Peers, ForeignClusterReconciler]:
    peers = Peers()
    watch = WatchedResource("authentication.liqo.io", "v1beta1", "tenants")
    source = PeerStatusSource("authentication", (watch,), peers.status)
    settings = LiqoSettings(modules=["authentication"])
    return FakeKube(), peers, ForeignClusterReconciler(settings, [source])


async def test_a_peer_gets_a_foreign_cluster_that_goes_with_its_objects(world: Any) -> None:
    api, peers, reconciler = world
    await reconciler.reconcile(api, "c")
    assert api.objects == {}  # nothing refers to c

    peers.consumers.add("c")
    await reconciler.reconcile(api, "c")
    fc = api.objects[foreign_cluster_path("c")]
    assert fc["status"]["role"] == "Consumer"
    assert fc["status"]["observedGeneration"] == 1
    await reconciler.reconcile(api, "c")
    assert api.patches == 1  # unchanged: not written again

    del api.objects[foreign_cluster_path("c")]  # deleted while the Tenant exists
    await reconciler.reconcile(api, "c")
    assert api.objects[foreign_cluster_path("c")]["status"]["role"] == "Consumer"

    peers.consumers.clear()  # unpeered
    await reconciler.reconcile(api, "c")
    assert api.objects == {}


async def test_a_declared_foreign_cluster_stays(world: Any) -> None:
    api, _, reconciler = world
    declared = {"metadata": {"name": "d", "uid": "u", "generation": 2}, "spec": {"clusterID": "d"}}
    api.objects[foreign_cluster_path("d")] = declared
    await reconciler.reconcile(api, "d")
    assert api.objects[foreign_cluster_path("d")]["status"]["role"] == "Unknown"


async def test_known_peers_come_from_foreign_clusters_and_watched_objects(world: Any) -> None:
    api, _, reconciler = world
    api.objects[foreign_cluster_path("a")] = {"metadata": {"name": "a"}}
    labelled = {"metadata": {"labels": {"liqo.io/remote-cluster-id": "b"}}}
    api.lists["/apis/authentication.liqo.io/v1beta1/tenants"] = [labelled, {"metadata": {}}]
    assert await known_peers(api, reconciler.sources) == {"a", "b"}


def test_the_core_registry_exists_without_modules() -> None:
    with load_runtime(LiqoSettings(modules=[])) as runtime:
        assert runtime.peer_status_sources() == []
        registry = runtime.core_registry()
        assert isinstance(registry, kopf.OperatorRegistry)
        assert registry is not kopf.get_default_registry()


def test_the_authentication_module_contributes_a_source() -> None:
    with load_runtime(LiqoSettings(modules=["authentication"])) as runtime:
        [source] = runtime.peer_status_sources()
        assert source.module == "authentication"
        assert {w.plural for w in source.watches} == {
            "tenants",
            "identities",
            "resourceslices",
            "secrets",
        }


async def test_a_burst_of_changes_costs_one_reconciliation(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, peers, reconciler = world
    peers.consumers.add("c")

    @contextlib.asynccontextmanager
    async def shared_client(target: KubeTarget) -> AsyncIterator[FakeKube]:
        yield api

    monkeypatch.setattr(controller, "kube_client", shared_client)
    reconciler.coalesce = 0.05
    done: list[str] = []
    reconcile = reconciler.reconcile

    async def counted(kube: Any, peer: str) -> None:
        await reconcile(kube, peer)
        done.append(peer)

    reconciler.reconcile = counted
    # A peering's dozen events, as its objects are created one after the other.
    await asyncio.gather(*(reconciler.request(KubeTarget(), "c") for _ in range(12)))
    assert done == ["c"]
    assert api.objects[foreign_cluster_path("c")]["status"]["role"] == "Consumer"

    # A change after the reconciliation is seen by another one.
    peers.consumers.clear()
    await reconciler.request(KubeTarget(), "c")
    assert done == ["c", "c"]
    assert api.objects == {}


async def test_event_handlers_only_enqueue_and_stop_cancels_what_is_pending(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, peers, reconciler = world
    peers.consumers.add("c")

    @contextlib.asynccontextmanager
    async def shared_client(target: KubeTarget) -> AsyncIterator[FakeKube]:
        yield api

    monkeypatch.setattr(controller, "kube_client", shared_client)
    reconciler.coalesce = 0.05
    for _ in range(12):
        reconciler.enqueue(KubeTarget(), "c")  # returns at once: nothing reconciled yet
    assert api.objects == {}
    await reconciler.stop()
    assert api.objects == {}  # cancelled before its turn

    for _ in range(12):
        reconciler.enqueue(KubeTarget(), "c")
    assert len(reconciler._tasks) == 1  # one reconciliation scheduled for the burst
    await asyncio.wait(set(reconciler._tasks))
    assert api.objects[foreign_cluster_path("c")]["status"]["role"] == "Consumer"
    assert api.patches == 1
