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
from liqo_core.controllers import ControllerContext, hosted_controller_names
from liqo_core.kube import Controller, Informers, Kube, KubeTarget
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
)


class FakeKube:
    """Just enough of :class:`liqo_core.kube.Kube` for the reconciler."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
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


class Peers:
    """A fake module source: which peers have a Tenant."""

    def __init__(self) -> None:
        self.consumers: set[str] = set()

    async def status(self, api: Kube, peer: str) -> ModulePeerStatus:
        if peer not in self.consumers:
            return ModulePeerStatus()
        ready = PeerCondition("AuthTenantStatus", "Ready", "TenantReady")
        return ModulePeerStatus(in_use=True, consumer=True, conditions=[ready])


TENANTS = WatchedResource("authentication.liqo.io", "v1beta1", "tenants")


@pytest.fixture
def world() -> tuple[FakeKube, Peers, ForeignClusterReconciler]:
    peers = Peers()
    watch = TENANTS
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


def hosted(
    api: FakeKube, reconciler: ForeignClusterReconciler, monkeypatch: pytest.MonkeyPatch
) -> tuple[ControllerContext, Controller]:
    """The controller as the core operator builds it, its reconciliations on ``api``."""

    @contextlib.asynccontextmanager
    async def shared_client(target: KubeTarget) -> AsyncIterator[FakeKube]:
        yield api

    monkeypatch.setattr(controller, "kube_client", shared_client)
    fake: Any = api
    context = ControllerContext(fake, Informers(fake), reconciler.settings, KubeTarget())
    [built] = reconciler.build(context)
    return context, built


async def next_key(built: Controller) -> str:
    return await asyncio.wait_for(built.queue.get(), 5)


def test_the_core_operator_hosts_the_controller() -> None:
    with load_runtime(LiqoSettings(modules=["authentication"])) as runtime:
        assert hosted_controller_names(runtime.core_registry()) == ("foreigncluster",)


async def test_cached_objects_queue_their_peers_after_the_coalescing_delay(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, _, reconciler = world
    reconciler.coalesce = 0.05
    informers = Informers(api)
    informers.get(FOREIGN_CLUSTERS).cache.upsert({"metadata": {"name": "a"}})
    tenants = informers.get(TENANTS.path, label_selector=TENANTS.selector)
    tenants.cache.upsert({"metadata": {"name": "t", "labels": {"liqo.io/remote-cluster-id": "b"}}})
    tenants.cache.upsert({"metadata": {"name": "unlabelled"}})
    context = ControllerContext(api, informers, reconciler.settings, KubeTarget())
    [built] = reconciler.build(context)
    assert len(built.queue) == 0  # not before the delay
    assert {await next_key(built), await next_key(built)} == {"a", "b"}
    assert reconciler.known_peers() == {"a", "b"}


async def test_a_burst_of_changes_costs_one_reconciliation(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, peers, reconciler = world
    peers.consumers.add("c")
    reconciler.coalesce = 0.05
    _, built = hosted(api, reconciler, monkeypatch)
    for _ in range(12):  # a peering's dozen events, as its objects are created
        reconciler.enqueue("c")
    key = await next_key(built)
    assert key == "c"
    reconciler.enqueue("c")  # a change while it is reconciled,
    await built.process(key)
    built.queue.done(key)
    assert len(built.queue) == 0  # (the burst cost one reconciliation)
    assert api.objects[foreign_cluster_path("c")]["status"]["role"] == "Consumer"
    assert api.patches == 1

    peers.consumers.clear()  # is seen by one more reconciliation
    key = await next_key(built)
    assert key == "c"
    await built.process(key)
    built.queue.done(key)
    assert api.objects == {}
    assert len(built.queue) == 0


async def test_the_resync_queues_every_known_peer_and_stopping_closes_the_checks(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, _, reconciler = world
    reconciler.resync = 0.05
    context, built = hosted(api, reconciler, monkeypatch)
    informers: Informers = context.informers
    informers.get(FOREIGN_CLUSTERS).cache.upsert({"metadata": {"name": "d"}})
    closed: list[bool] = []

    async def close() -> None:
        closed.append(True)

    monkeypatch.setattr(reconciler.checker, "close", close)
    [resync] = context.tasks
    task = asyncio.create_task(resync())
    try:
        assert await next_key(built) == "d"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert closed == [True]
