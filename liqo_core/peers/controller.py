"""The ForeignCluster controller: hosted by the always-on ``core`` operator of the
controller-manager (:func:`liqo_core.controllers.host_controllers`).

A peer becomes known when an object of a module's watched resources belongs to it (by
default: is labelled ``liqo.io/remote-cluster-id=<peer>``); its ForeignCluster, named
after the peer's cluster id, is then created and its status derived from the modules'
reports. Informers of the ForeignClusters and of the watched resources queue the peer of
each change (after :data:`COALESCE_DELAY`, so a burst costs one reconciliation) to one
:class:`~liqo_core.kube.Controller` keyed by peer id, and every known peer is queued
again every :data:`RESYNC_INTERVAL` seconds. Each reconciliation reads the reports back
from the API: the caches only say which peers to look at.

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
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import kopf

from liqo_core.api.consts import MANAGED_BY_LABEL, REMOTE_CLUSTER_ID_LABEL
from liqo_core.api.core_v1beta1 import GROUP, VERSION
from liqo_core.controllers import ControllerContext, host_controllers
from liqo_core.kube import (
    Controller,
    EventHandler,
    Informer,
    ItemBackoff,
    JSONObject,
    Kube,
    KubeTarget,
    kube_client,
)
from liqo_core.peers.apiserver import APIServerChecker
from liqo_core.peers.contract import PeerStatusSource, gather_reports
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
#: Peers reconciled at once: an unreachable peer's API server check (up to 5 s) must not
#: delay the others.
WORKERS = 8


def foreign_cluster_path(name: str) -> str:
    """REST path of one ForeignCluster."""
    return f"{FOREIGN_CLUSTERS}/{quote(name)}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


PeerOf = Callable[[Mapping[str, Any]], str | None]


def _name(obj: Mapping[str, Any]) -> str | None:
    return (obj.get("metadata") or {}).get("name") or None


class ForeignClusterReconciler:
    """Derives ForeignClusters: a controller keyed by peer id, fed by informers of the
    ForeignClusters and of the modules' watched resources; changes are coalesced."""

    def __init__(
        self,
        settings: LiqoSettings,
        sources: Sequence[PeerStatusSource],
        coalesce: float = COALESCE_DELAY,
        resync: float = RESYNC_INTERVAL,
    ) -> None:
        self.settings = settings
        self.sources = list(sources)
        self.coalesce = coalesce
        self.resync = resync
        self.checker = APIServerChecker()
        #: The cluster reconciliations read and write (the hosting operator's).
        self.target: KubeTarget | None = None
        self.controller = self._controller()
        self._followed: list[tuple[Informer, PeerOf]] = []

    def _controller(self) -> Controller:
        # A failure is retried soon, and at the latest at the next resync.
        backoff = ItemBackoff(base=0.5, cap=self.resync)
        return Controller("foreigncluster", self._reconcile_key, workers=WORKERS, backoff=backoff)

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

    async def _reconcile_key(self, peer: str) -> None:
        if self.target is None:
            raise RuntimeError("no cluster yet: build() sets it")
        async with kube_client(self.target) as api:
            await self.reconcile(api, peer)

    # --- wiring -------------------------------------------------------------------------

    def build(self, context: ControllerContext) -> list[Controller]:
        """The controller, on the hosting operator's informers (for
        :func:`~liqo_core.controllers.host_controllers`), with the periodic resync."""
        self.target = context.target
        self.controller = self._controller()
        self._followed = []
        self._follow(context.informers.get(FOREIGN_CLUSTERS), _name)
        for source in self.sources:
            for resource in source.watches:
                informer = context.informers.get(resource.path, label_selector=resource.selector)
                if (informer, resource.peer_of) not in self._followed:
                    self._follow(informer, resource.peer_of)
        context.tasks.append(self.run_resync)
        return [self.controller]

    def _follow(self, informer: Informer, peer_of: PeerOf) -> None:
        """Queue the peer of every object ``informer`` sees change (both peers when an
        object moves from one to another)."""
        self._followed.append((informer, peer_of))

        def changed(*objects: JSONObject) -> None:
            for peer in dict.fromkeys(peer_of(obj) for obj in objects):
                if peer:
                    self.enqueue(peer)

        informer.add_event_handler(
            EventHandler(on_add=changed, on_update=changed, on_delete=changed)
        )

    def enqueue(self, peer: str) -> None:
        """Have ``peer`` reconciled in :attr:`coalesce` seconds: the changes arriving
        meanwhile are folded into that reconciliation, those arriving while it runs into
        one more."""
        self.controller.queue.add_after(peer, self.coalesce)

    def known_peers(self) -> set[str]:
        """Peers with a ForeignCluster or with an object of a watched resource (as cached)."""
        return {
            peer
            for informer, peer_of in self._followed
            for obj in informer.items()
            if (peer := peer_of(obj))
        }

    async def run_resync(self) -> None:
        """Queue every known peer every :attr:`resync` seconds, until cancelled (then
        close the API server checks' clients)."""
        try:
            while True:
                await asyncio.sleep(self.resync)
                for peer in sorted(self.known_peers()):
                    self.controller.queue.add(peer)
        finally:
            await self.checker.close()


def register(
    registry: kopf.OperatorRegistry,
    settings: LiqoSettings,
    sources: Sequence[PeerStatusSource],
) -> ForeignClusterReconciler:
    """Host the ForeignCluster controller in the ``core`` operator's registry."""
    reconciler = ForeignClusterReconciler(settings, sources)
    host_controllers(registry, "foreigncluster", reconciler.build)
    return reconciler
