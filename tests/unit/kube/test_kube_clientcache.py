"""The shared client cache: one client per (loop, target), renewed after its TTL or a 401,
closed when its last user is done, and all closed by ``close_clients``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from liqo_core.kube import ClientCache, Kube, KubeError, KubeTarget, close_clients, kube_client
from liqo_core.testing.clusters import ClusterHandle

NAMESPACES = "/api/v1/namespaces"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def closed(kube: Kube) -> bool:
    return bool(kube.api.rest_client.pool_manager.closed)


class Built:
    """A factory that builds real clients and remembers them."""

    def __init__(self) -> None:
        self.clients: list[Kube] = []

    async def __call__(self, target: KubeTarget) -> Kube:
        kube = await Kube.from_target(target, request_timeout=30.0)
        self.clients.append(kube)
        return kube


def write_kubeconfig(path: Path, source: Path, *, token: str | None = None) -> None:
    """Copy the kubeconfig ``source`` to ``path``, its users' credentials set to ``token``."""
    document = yaml.safe_load(source.read_text())
    if token is not None:
        for user in document["users"]:
            user["user"] = {"token": token}
    path.write_text(yaml.safe_dump(document))


@pytest.fixture
def target(kube_cluster: ClusterHandle) -> KubeTarget:
    return KubeTarget(kubeconfig=Path(kube_cluster.kubeconfig))


async def test_one_client_is_shared_until_its_ttl_then_renewed(target: KubeTarget) -> None:
    clock, built = Clock(), Built()
    cache = ClientCache(ttl=60.0, factory=built, clock=clock)
    try:
        async with cache.client(target) as first:
            assert await first.get(NAMESPACES)
        clock.now += 59
        async with cache.client(target) as again:
            assert again is first
        clock.now += 2
        async with cache.client(target) as fresh:
            assert fresh is not first
            assert await fresh.get(NAMESPACES)
        await cache.settle()
        assert closed(first) and not closed(fresh)
        assert len(built.clients) == 2
    finally:
        await cache.close()
    assert closed(fresh)


async def test_an_expired_client_in_use_is_closed_only_when_released(target: KubeTarget) -> None:
    clock, built = Clock(), Built()
    cache = ClientCache(ttl=10.0, factory=built, clock=clock)
    try:
        async with cache.client(target) as old:
            async with cache.client(target) as shared:
                assert shared is old
            clock.now += 11
            async with cache.client(target) as fresh:
                assert fresh is not old
                await cache.settle()
                assert not closed(old)
                assert await old.get(NAMESPACES)  # its user still holds it
            assert len(cache) == 2
        await cache.settle()
        assert closed(old) and not closed(fresh)
        assert len(cache) == 1
    finally:
        await cache.close()


async def test_concurrent_first_users_build_one_client(target: KubeTarget) -> None:
    built = Built()
    cache = ClientCache(factory=built)

    async def use() -> Kube:
        async with cache.client(target) as kube:
            await kube.get(NAMESPACES)
            return kube

    try:
        clients = await asyncio.gather(*(use() for _ in range(5)))
        assert len({id(kube) for kube in clients}) == 1
        assert len(built.clients) == 1
    finally:
        await cache.close()


async def test_a_401_drops_the_client_and_the_next_reads_the_rotated_credentials(
    kube_cluster: ClusterHandle, tmp_path: Path
) -> None:
    path = tmp_path / "kubeconfig"
    write_kubeconfig(path, kube_cluster.kubeconfig, token="revoked-token")
    target = KubeTarget(kubeconfig=path)
    built = Built()
    cache = ClientCache(ttl=3600.0, factory=built)
    try:
        with pytest.raises(KubeError) as err:
            async with cache.client(target) as stale:
                await stale.get(NAMESPACES)
        assert err.value.status == 401
        write_kubeconfig(path, kube_cluster.kubeconfig)  # the credentials are rotated
        async with cache.client(target) as fresh:
            assert fresh is not stale
            assert await fresh.get(NAMESPACES)
        await cache.settle()
        assert closed(stale)
    finally:
        await cache.close()


async def test_a_401_caught_by_its_user_still_drops_the_client(
    kube_cluster: ClusterHandle, tmp_path: Path
) -> None:
    path = tmp_path / "kubeconfig"
    write_kubeconfig(path, kube_cluster.kubeconfig, token="revoked-token")
    built = Built()
    cache = ClientCache(ttl=3600.0, factory=built)
    try:
        async with cache.client(KubeTarget(kubeconfig=path)) as kube:
            with pytest.raises(KubeError):
                await kube.get(NAMESPACES)
        async with cache.client(KubeTarget(kubeconfig=path)) as other:
            assert other is not kube
    finally:
        await cache.close()


async def test_kube_client_is_per_loop_and_close_clients_closes_them(target: KubeTarget) -> None:
    async with kube_client(target) as first:
        assert await first.get(NAMESPACES)
    async with kube_client(target) as second:
        assert second is first
    await close_clients()
    assert closed(first)
    async with kube_client(target) as third:
        assert third is not first
        assert await third.get(NAMESPACES)
    await close_clients()
    assert closed(third)


def test_each_event_loop_has_its_own_clients(target: KubeTarget) -> None:
    async def client() -> Kube:
        async with kube_client(target) as kube:
            await kube.get(NAMESPACES)
        await kube.close()  # behind the cache's back: a shared cache would hand it out again
        return kube

    assert asyncio.run(client()) is not asyncio.run(client())


async def test_a_failed_build_is_not_cached(tmp_path: Path) -> None:
    cache = ClientCache()
    missing = KubeTarget(kubeconfig=tmp_path / "absent")
    for _ in range(2):
        with pytest.raises(Exception, match="does not exist"):
            async with cache.client(missing):
                pass
    assert len(cache) == 0


async def test_an_idle_client_is_closed_when_its_time_is_up(target: KubeTarget) -> None:
    built = Built()
    cache = ClientCache(ttl=0.2, factory=built)
    try:
        async with cache.client(target) as kube:
            assert await kube.get(NAMESPACES)
        async with asyncio.timeout(5):
            while not closed(kube):  # noqa: ASYNC110 - closed by the cache's own timer
                await asyncio.sleep(0.02)
        assert len(cache) == 0
    finally:
        await cache.close()
