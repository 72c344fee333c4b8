"""The reflector against an API server: two namespaces of one cluster play consumer and provider.

Local objects are selected by ``liqo.io/replication=true`` and copies carry
``liqo.io/replication=false``, so both sides can share a cluster without overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from kubernetes_asyncio import client

from liqo_core.api import consts
from liqo_core.api.authentication_v1beta1 import Renew, ResourceSlice
from liqo_core.api.offloading_namespace import NamespaceMap
from liqo_core.kube import Kube, KubeError, KubeTarget, WatchExpiredError
from liqo_core.replication import ReplicatedResource, logic
from liqo_core.replication.reflector import AuthenticationError, Reflector
from liqo_core.testing.clusters import ClusterHandle

T = TypeVar("T")
NAMESPACE_MAP = ReplicatedResource.of(NamespaceMap)
RENEW = ReplicatedResource.of(Renew)
KINDS = (NAMESPACE_MAP, ReplicatedResource.of(ResourceSlice), RENEW)


@pytest.fixture
def cluster(kube_cluster: ClusterHandle) -> ClusterHandle:
    liqoctl = Path(sys.executable).parent / "liqoctl"
    manifests = subprocess.run(
        [str(liqoctl), "crds"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    kube_cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=manifests)
    kube_cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "crd/renews.authentication.liqo.io"
    )
    return kube_cluster


@pytest.fixture
async def api(cluster: ClusterHandle) -> AsyncIterator[Kube]:
    kube = await Kube.from_target(KubeTarget(kubeconfig=cluster.kubeconfig))
    try:
        yield kube
    finally:
        await kube.close()


async def eventually(what: str, probe: Callable[[], Awaitable[T | None]]) -> T:
    """Poll ``probe`` (an observation through the API) until it is truthy, for 20 s at most."""
    try:
        async with asyncio.timeout(20):
            while True:
                result = await probe()
                if result:
                    return result
                await asyncio.sleep(0.1)  # polling interval of the observation
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def namespace(cluster: ClusterHandle) -> str:
    name = f"repl-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    return name


async def test_a_watch_from_a_compacted_version_asks_for_a_new_list(
    api: Kube,
) -> None:
    with pytest.raises(WatchExpiredError):
        async for _event in api.watch(RENEW.path(None), "1", label_selector="a=b"):
            pass


async def test_copies_reports_foreign_objects_and_converges_after_a_restart(
    cluster: ClusterHandle, api: Kube
) -> None:
    local_ns, remote_ns = namespace(cluster), namespace(cluster)
    peer, local_id = f"peer-{uuid.uuid4().hex[:6]}", f"local-{uuid.uuid4().hex[:6]}"
    labels = {
        consts.REPLICATION_REQUESTED_LABEL: "true",
        consts.REPLICATION_DESTINATION_LABEL: peer,
    }
    reports: list[tuple[str, str]] = []

    def start() -> asyncio.Task[None]:
        reflector = Reflector(
            peer=peer,
            remote_namespace=remote_ns,
            local_cluster_id=local_id,
            local=api,
            remote=api,
            report=lambda reason, message: reports.append((reason, message)),
            kinds=KINDS,
        )
        return asyncio.create_task(reflector.run())

    # A Renew of the same name exists on the "provider" and is not ours: left alone.
    foreign = {
        "apiVersion": RENEW.api_version,
        "kind": "Renew",
        "metadata": {"name": "shared-name", "namespace": remote_ns},
        "spec": {"consumerClusterID": "someone", "identityType": "ControlPlane"},
    }
    await api.request("POST", RENEW.path(remote_ns), foreign)
    await api.request(
        "POST",
        RENEW.path(local_ns),
        {**foreign, "metadata": {"name": "shared-name", "namespace": local_ns, "labels": labels}},
    )
    await api.request(
        "POST",
        NAMESPACE_MAP.path(local_ns),
        {
            "apiVersion": NAMESPACE_MAP.api_version,
            "kind": "NamespaceMap",
            "metadata": {"name": peer, "namespace": local_ns, "labels": labels},
            "spec": {"desiredMapping": {"a": "b"}},
        },
    )

    task = start()
    try:
        copy = await eventually("the copy", lambda: api.get(NAMESPACE_MAP.path(remote_ns, peer)))
        assert copy["metadata"]["labels"][consts.REPLICATION_ORIGIN_LABEL] == local_id
        assert copy["spec"] == {"desiredMapping": {"a": "b"}}

        async def conflict() -> bool:
            return any(reason == "ReplicationConflict" for reason, _ in reports)

        await eventually("a conflict report", conflict)
        renew = await api.get(RENEW.path(remote_ns, "shared-name"))
        assert renew is not None
        assert renew["spec"]["consumerClusterID"] == "someone"
        assert consts.REPLICATION_ORIGIN_LABEL not in (renew["metadata"].get("labels") or {})
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    # Deleted while no reflector runs: the finalizer holds it until a new one converges.
    await api.request("DELETE", NAMESPACE_MAP.path(local_ns, peer))
    held = await api.get(NAMESPACE_MAP.path(local_ns, peer))
    assert held is not None
    assert held["metadata"]["finalizers"] == [consts.CRD_REPLICATOR_RESOURCE_FINALIZER]
    task = start()
    try:

        async def both_gone() -> bool:
            local = await api.get(NAMESPACE_MAP.path(local_ns, peer))
            remote = await api.get(NAMESPACE_MAP.path(remote_ns, peer))
            return local is None and remote is None

        await eventually("the object and its copy gone", both_gone)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_an_unreachable_peer_is_reported_without_credentials(
    cluster: ClusterHandle, api: Kube
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    configuration = client.Configuration()
    configuration.host = f"https://127.0.0.1:{port}"
    configuration.api_key["BearerToken"] = "Bearer very-secret-token"
    reports: list[tuple[str, str]] = []
    async with client.ApiClient(configuration=configuration) as unreachable:
        reflector = Reflector(
            peer="gone",
            remote_namespace="tenant",
            local_cluster_id=f"local-{uuid.uuid4().hex[:6]}",
            local=api,
            remote=Kube(unreachable),
            report=lambda reason, message: reports.append((reason, message)),
            kinds=KINDS,
        )
        task = asyncio.create_task(reflector.run())
        try:

            async def reported() -> bool:
                return any(reason == "RemoteUnreachable" for reason, _ in reports)

            await eventually("a RemoteUnreachable report", reported)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    messages = [message for _, message in reports]
    assert all("very-secret-token" not in message for message in messages)
    assert any("peer gone unreachable" in message for message in messages)


def replication_labels(peer: str) -> dict[str, str]:
    return {consts.REPLICATION_REQUESTED_LABEL: "true", consts.REPLICATION_DESTINATION_LABEL: peer}


def namespace_map(name: str, namespace: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": NAMESPACE_MAP.api_version,
        "kind": "NamespaceMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {"desiredMapping": {"a": "b"}},
    }


@contextlib.asynccontextmanager
async def running(reflector: Reflector) -> AsyncIterator[asyncio.Task[None]]:
    """``reflector.run()`` as a task, cancelled on exit."""
    task = asyncio.create_task(reflector.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Peer:
    """A peer id, this cluster's id and the two namespaces of one test."""

    def __init__(self, cluster: ClusterHandle) -> None:
        self.local_ns, self.remote_ns = namespace(cluster), namespace(cluster)
        self.id, self.local_id = f"peer-{uuid.uuid4().hex[:6]}", f"local-{uuid.uuid4().hex[:6]}"
        self.reports: list[tuple[str, str]] = []

    def reflector(self, local: Kube, remote: Kube) -> Reflector:
        return Reflector(
            peer=self.id,
            remote_namespace=self.remote_ns,
            local_cluster_id=self.local_id,
            local=local,
            remote=remote,
            report=lambda reason, message: self.reports.append((reason, message)),
            kinds=KINDS,
        )

    def local_path(self) -> str:
        return NAMESPACE_MAP.path(self.local_ns, self.id)

    def remote_path(self) -> str:
        return NAMESPACE_MAP.path(self.remote_ns, self.id)


class HeldLists(Kube):
    """A client on ``api``'s connections whose lists (label-selected GETs) wait for
    :attr:`released`."""

    def __init__(self, api: Kube) -> None:
        super().__init__(api.api, request_timeout=30.0)
        self.released = asyncio.Event()
        self.held = 0

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        if method == "GET" and query and "labelSelector" in query:
            self.held += 1
            await self.released.wait()
        return await super().request(method, path, body, query=query, content_type=content_type)


async def test_no_copy_is_taken_for_an_orphan_before_the_local_objects_are_listed(
    cluster: ClusterHandle, api: Kube
) -> None:
    peer = Peer(cluster)
    local = await api.request(
        "POST",
        NAMESPACE_MAP.path(peer.local_ns),
        namespace_map(peer.id, peer.local_ns, replication_labels(peer.id)),
    )
    # The copy a previous run made.
    copy = logic.desired_remote(local, NAMESPACE_MAP, peer.local_id, peer.remote_ns)
    copy = await api.request("POST", NAMESPACE_MAP.path(peer.remote_ns), copy)
    held = HeldLists(api)
    reflector = peer.reflector(held, api)
    reconciled: list[str] = []
    reconcile = reflector.reconcile

    async def recorded(kind: ReplicatedResource, name: str) -> None:
        reconciled.append(name)
        await reconcile(kind, name)

    reflector.reconcile = recorded  # type: ignore[method-assign]
    async with running(reflector):

        async def copy_seen() -> bool:
            return len(reflector.remote_informers[NAMESPACE_MAP].cache) > 0

        await eventually("the remote copy seen", copy_seen)
        assert held.held == len(KINDS)  # every local list is still waiting
        assert reconciled == []
        assert len(reflector.controller.queue) == 1
        held.released.set()

        async def finalized() -> bool:
            obj = await api.get(peer.local_path()) or {}
            return consts.CRD_REPLICATOR_RESOURCE_FINALIZER in obj["metadata"].get("finalizers", [])

        await eventually("the local object reconciled", finalized)
        kept = await api.get(peer.remote_path()) or {}
        assert kept["metadata"]["uid"] == copy["metadata"]["uid"]  # never taken for an orphan
    assert reconciled[0] == peer.id
    assert peer.reports == []


async def test_an_object_leaving_the_selection_loses_its_copy_then_the_finalizer(
    cluster: ClusterHandle, api: Kube
) -> None:
    peer = Peer(cluster)
    body = namespace_map(peer.id, peer.local_ns, replication_labels(peer.id))
    await api.request("POST", NAMESPACE_MAP.path(peer.local_ns), body)
    async with running(peer.reflector(api, api)):
        await eventually("the copy", lambda: api.get(peer.remote_path()))
        unselect = {"metadata": {"labels": {consts.REPLICATION_REQUESTED_LABEL: None}}}
        await api.merge_patch(peer.local_path(), unselect)

        async def released() -> bool:
            local = await api.get(peer.local_path())
            remote = await api.get(peer.remote_path())
            return remote is None and local is not None and not local["metadata"].get("finalizers")

        await eventually("the copy gone, then the finalizer", released)
    assert peer.reports == []


async def test_a_conflict_is_read_again_without_a_warning(
    cluster: ClusterHandle, api: Kube
) -> None:
    peer = Peer(cluster)
    body = namespace_map(peer.id, peer.local_ns, replication_labels(peer.id))
    await api.request("POST", NAMESPACE_MAP.path(peer.local_ns), body)
    reflector = peer.reflector(api, api)
    conflicts: list[str] = []
    reconcile = reflector.reconcile

    async def conflicting_once(kind: ReplicatedResource, name: str) -> None:
        if not conflicts:
            conflicts.append(name)
            raise KubeError(409, "Conflict", "the object has been modified")
        await reconcile(kind, name)

    reflector.reconcile = conflicting_once  # type: ignore[method-assign]
    async with running(reflector):
        await eventually("the copy", lambda: api.get(peer.remote_path()))
    assert conflicts == [peer.id]
    assert peer.reports == []


def with_token(cluster: ClusterHandle, token: str) -> str:
    """The cluster's kubeconfig with ``token`` as its only credential."""
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    return str(yaml.safe_dump(config))


async def test_rejected_credentials_end_the_run_with_an_authentication_error(
    cluster: ClusterHandle, api: Kube
) -> None:
    remote = await Kube.from_kubeconfig(with_token(cluster, "not-a-valid-token"))
    peer = Peer(cluster)
    try:
        with pytest.raises(AuthenticationError, match="remote cluster rejected the credentials"):
            await asyncio.wait_for(peer.reflector(api, remote).run(), 20)
    finally:
        await remote.close()
    assert all("not-a-valid-token" not in message for _, message in peer.reports)
