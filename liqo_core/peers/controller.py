"""The ForeignCluster controller: the always-on ``core`` operator of the controller-manager.

A peer becomes known when an object of a module's watched resources belongs to it (by
default: is labelled ``liqo.io/remote-cluster-id=<peer>``); its ForeignCluster, named
after the peer's cluster id, is then created and its status derived from the modules'
reports on every change and every :data:`RESYNC_INTERVAL` seconds.

The ForeignCluster is a read model, never a source of truth:

- deleted while the peer's objects exist, it is created again;
- one this controller created (label ``liqo.io/managed-by=foreigncluster``) is deleted
  once no module holds objects for the peer any more, so unpeering leaves nothing
  behind; one a user created stays.

Upstream keeps its API server checker alive with the finalizer
``api-server-checker.liqo.io/finalizer``; here the checker keeps nothing outside the
process (a deleted ForeignCluster is simply no longer probed), so no finalizer is set and
a ForeignCluster never blocks an uninstall.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import kopf

from liqo_core.api.consts import MANAGED_BY_LABEL, REMOTE_CLUSTER_ID_LABEL
from liqo_core.api.core_v1beta1 import GROUP, VERSION
from liqo_core.kube import Kube, KubeTarget, api_status, describe_error, kube_client
from liqo_core.peers.apiserver import APIServerChecker
from liqo_core.peers.contract import PeerStatusSource, WatchedResource, gather_reports
from liqo_core.peers.derive import derive_status, in_use
from liqo_core.settings import LiqoSettings

logger = logging.getLogger(__name__)

FOREIGN_CLUSTERS = f"/apis/{GROUP}/{VERSION}/foreignclusters"
#: ``liqo.io/managed-by`` value of the ForeignClusters this controller creates.
MANAGED_BY_VALUE = "foreigncluster"
#: Seconds between two reconciliations of every peer (upstream's requeue period).
RESYNC_INTERVAL = 15.0
#: Seconds a change waits before its peer is reconciled, so that the burst of changes a
#: peering makes (a dozen objects within a second or two) costs one reconciliation, not
#: one each: a ForeignCluster is a read model, and each reconciliation lists the
#: modules' objects of the peer.
COALESCE_DELAY = 0.5


def foreign_cluster_path(name: str) -> str:
    """REST path of one ForeignCluster."""
    return f"{FOREIGN_CLUSTERS}/{quote(name)}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def known_peers(api: Kube, sources: Sequence[PeerStatusSource]) -> set[str]:
    """Peers with a ForeignCluster or with an object of a watched resource."""
    peers: set[str] = set()
    for item in await _list(api, FOREIGN_CLUSTERS, None):
        peers.add(item["metadata"]["name"])
    for source in sources:
        for resource in source.watches:
            for item in await _list(api, resource.path, resource.selector):
                peer = resource.peer_of(item)
                if peer:
                    peers.add(peer)
    return peers


async def _list(api: Kube, path: str, selector: str | None) -> list[dict[str, Any]]:
    try:
        return await api.list_items(path, selector)
    except Exception as exc:
        if api_status(exc) == 404:  # the CRD is not installed
            return []
        raise


def new_foreign_cluster(peer: str) -> dict[str, Any]:
    """The ForeignCluster this controller creates for ``peer``."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ForeignCluster",
        "metadata": {
            "name": peer,
            "labels": {REMOTE_CLUSTER_ID_LABEL: peer, MANAGED_BY_LABEL: MANAGED_BY_VALUE},
        },
        "spec": {"clusterID": peer},
    }


def auto_created(foreign_cluster: Mapping[str, Any]) -> bool:
    """Whether this controller created ``foreign_cluster``."""
    labels = (foreign_cluster.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE)


@dataclass
class _Queue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    again: bool = False


class ForeignClusterReconciler:
    """Derives ForeignClusters; one reconciliation per peer at a time, changes coalesced."""

    def __init__(
        self,
        settings: LiqoSettings,
        sources: Sequence[PeerStatusSource],
        coalesce: float = COALESCE_DELAY,
    ) -> None:
        self.settings = settings
        self.sources = list(sources)
        self.coalesce = coalesce
        self.checker = APIServerChecker()
        self._queues: dict[str, _Queue] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduled: set[str] = set()

    async def reconcile(self, api: Kube, peer: str) -> None:
        """Create, update or remove the ForeignCluster of ``peer``."""
        reports = await gather_reports(api, self.sources, peer)
        used = in_use(reports.values())
        path = foreign_cluster_path(peer)
        current = await api.get(path)
        if current is None:
            if not used:
                self.checker.forget(peer)
                return
            current = await api.create(FOREIGN_CLUSTERS, new_foreign_cluster(peer))
            if current is None:  # created meanwhile
                current = await api.get(path)
                if current is None:
                    return
            else:
                logger.info("ForeignCluster %s created", peer)
        meta = current["metadata"]
        if meta.get("deletionTimestamp"):
            return
        if not used and auto_created(current):
            await api.delete(path, {"preconditions": {"uid": meta["uid"]}})
            self.checker.forget(peer)
            logger.info("ForeignCluster %s deleted: no object refers to the peer any more", peer)
            return
        kubeconfig = next((r.kubeconfig for r in reports.values() if r.kubeconfig), None)
        api_server = await self.checker.check(peer, kubeconfig)
        status = derive_status(
            current.get("status"),
            self.settings.modules,
            reports,
            api_server,
            _now(),
            generation=meta.get("generation"),
        )
        if status != current.get("status"):
            replace = [{"op": "add", "path": "/status", "value": status}]
            await api.json_patch(f"{path}/status", replace)

    async def request(self, target: KubeTarget, peer: str) -> None:
        """Reconcile ``peer`` after :attr:`coalesce` seconds; changes arriving meanwhile,
        or while it is being reconciled, are folded into one more reconciliation."""
        self._scheduled.discard(peer)
        queue = self._queues.setdefault(peer, _Queue())
        if queue.lock.locked():
            queue.again = True
            return
        async with queue.lock:
            queue.again = True
            while queue.again:
                await asyncio.sleep(self.coalesce)  # let the rest of a burst arrive
                queue.again = False
                try:
                    async with kube_client(target) as api:
                        await self.reconcile(api, peer)
                except Exception as exc:  # retried at the next change or resync
                    logger.warning("ForeignCluster %s: %s", peer, describe_error(exc))
        if not queue.lock.locked():
            self._queues.pop(peer, None)

    def enqueue(self, target: KubeTarget, peer: str) -> None:
        """Have ``peer`` reconciled soon (:meth:`request` in the background): event
        handlers return at once, so the other handlers of the same object (the CRD
        replicator's, on Secrets) do not wait for the coalescing delay."""
        if peer in self._scheduled:  # a reconciliation not started yet sees this change
            return
        queue = self._queues.get(peer)
        if queue is not None and queue.lock.locked():
            queue.again = True
            return
        self._scheduled.add(peer)
        task = asyncio.get_running_loop().create_task(self.request(target, peer), name=f"fc-{peer}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Cancel the pending reconciliations and close the API server checks' clients."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._scheduled.clear()
        await self.checker.close()

    async def resync(self, target: KubeTarget) -> None:
        """Reconcile every known peer."""
        try:
            async with kube_client(target) as api:
                peers = await known_peers(api, self.sources)
        except Exception as exc:
            logger.warning("listing peers failed: %s", describe_error(exc))
            return
        # Concurrently: an unreachable peer's API server check must not delay the others.
        await asyncio.gather(*(self.request(target, peer) for peer in sorted(peers)))

    async def run_resync(self, target: KubeTarget, interval: float = RESYNC_INTERVAL) -> None:
        """Resync forever, every ``interval`` seconds."""
        while True:
            await self.resync(target)
            await asyncio.sleep(interval)


def register(
    registry: kopf.OperatorRegistry,
    settings: LiqoSettings,
    sources: Sequence[PeerStatusSource],
) -> ForeignClusterReconciler:
    """Add the ForeignCluster controller's handlers to the ``core`` operator's registry."""
    reconciler = ForeignClusterReconciler(settings, sources)
    background: set[asyncio.Task[None]] = set()

    @kopf.on.startup(registry=registry, id="foreigncluster-resync")
    async def start_resync(memo: kopf.Memo, **_: Any) -> None:
        task = asyncio.create_task(reconciler.run_resync(memo.kube_target), name="fc-resync")
        background.add(task)
        task.add_done_callback(background.discard)

    @kopf.on.cleanup(registry=registry, id="foreigncluster-resync-stop")
    async def stop_resync(**_: Any) -> None:
        tasks = list(background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await reconciler.stop()

    @kopf.on.event(GROUP, VERSION, "foreignclusters", registry=registry, id="foreigncluster")
    async def foreign_cluster_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        if body.metadata.name:
            reconciler.enqueue(memo.kube_target, body.metadata.name)

    seen: set[str] = set()
    for source in sources:
        for resource in source.watches:
            handler_id = f"foreigncluster-{source.module}-{resource.plural}"
            if handler_id in seen:
                continue
            seen.add(handler_id)
            labels = {k: kopf.PRESENT if v is None else v for k, v in resource.labels.items()}
            kopf.on.event(
                resource.group,
                resource.version,
                resource.plural,
                registry=registry,
                id=handler_id,
                labels=labels or None,
            )(_peer_object_handler(reconciler, resource))
    return reconciler


def _peer_object_handler(reconciler: ForeignClusterReconciler, resource: WatchedResource) -> Any:
    """A kopf event handler reconciling the peer an object of ``resource`` belongs to."""

    async def peer_object_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        peer = resource.peer_of(body)
        if peer:
            reconciler.enqueue(memo.kube_target, peer)

    return peer_object_changed
