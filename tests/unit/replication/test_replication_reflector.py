"""The reflector against an API server: two namespaces of one cluster play consumer and provider.

Local objects are selected by ``liqo.io/replication=true`` and copies carry
``liqo.io/replication=false``, so both sides can share a cluster without overlap.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from kubernetes_asyncio import client

from liqo_core.api import consts
from liqo_core.api.authentication_v1beta1 import Renew, ResourceSlice
from liqo_core.api.offloading_namespace import NamespaceMap
from liqo_core.kube import Kube, KubeTarget, WatchExpiredError
from liqo_core.replication import ReplicatedResource
from liqo_core.replication.reflector import Reflector
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
