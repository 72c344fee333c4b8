"""One peer's reflector: keeps the replicated kinds' objects in sync with the peer.

For each replicated kind (a :class:`~liqo_core.replication.ReplicatedResource` a module
declared) one informer follows the local objects selected for the peer and one the
copies this cluster made in the peer's tenant namespace; both queue the object's key
(``<resource>.<group>/<name>``) to one :class:`~liqo_core.kube.Controller`, whose worker
reconciles one object at a time from both sides: spec and labels local -> remote (the
copy's annotations stay the peer's), status remote -> local, finalizer
``crdreplicator.liqo.io/resource`` on the local object until its remote copy is gone.

Every decision is re-derived from the two clusters' state, so a restart anywhere
converges without duplicates: the local object comes from its informer's cache (read
from the API once it left the selection), the remote one is read from the peer (an
object of that name there may not be our copy, and the remote informer only sees ours).
The controller starts once every local informer has listed, so that no remote copy
looks orphaned before its local object is known.

Problems are reported once each (until they change or are solved) through ``report``,
as Warning events: list/watch failures by side and status (``RemoteForbidden``,
``RemoteUnreachable``...), failed reconciliations (``ReplicationFailed``; a 409 conflict
is routine and only read again) and foreign objects (``ReplicationConflict``). A 401
from either cluster ends :meth:`Reflector.run` with :class:`AuthenticationError`: the
manager starts again with new clients.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence

import aiohttp

from liqo_core.api import consts
from liqo_core.kube import (
    Backoff,
    Controller,
    EventHandler,
    Informer,
    ItemBackoff,
    Kube,
    KubeError,
    describe_error,
)
from liqo_core.replication import ReplicatedResource, logic
from liqo_core.replication.logic import JSONObject

logger = logging.getLogger(__name__)

#: Longest wait of one API request.
REQUEST_TIMEOUT = 15.0
#: Longest reconciliation of one object (a few requests to either cluster).
RECONCILE_TIMEOUT = 4 * REQUEST_TIMEOUT
#: Server-side end of each watch (then it is resumed from the last resourceVersion).
WATCH_SECONDS = 120
#: Seconds before an object whose write met a conflict (409) is read and reconciled again.
CONFLICT_RETRY = 0.5

#: Failures worth a retry: network, timeouts, undecodable answers.
TRANSIENT_ERRORS = (OSError, TimeoutError, ValueError, aiohttp.ClientError)


class AuthenticationError(Exception):
    """The cluster rejected the credentials (HTTP 401): new clients are needed."""


def retry_backoff() -> Backoff:
    """Delays between retries (informers, reflector restarts): 0.5 s doubling up to 10 s,
    plus up to 20%."""
    return Backoff(initial=0.5, cap=10.0, jitter=0.2)


async def set_finalizer(
    kube: Kube, path: str, obj: JSONObject, finalizer: str, present: bool
) -> JSONObject:
    """Add or remove ``finalizer`` (optimistic: fails with 409 on a concurrent change)."""
    updated = logic.with_finalizer(obj, finalizer, present)
    if updated is None:
        return obj
    metadata = updated["metadata"]
    patch = {
        "metadata": {
            "finalizers": metadata["finalizers"],
            "resourceVersion": metadata.get("resourceVersion"),
        }
    }
    return await kube.merge_patch(path, patch)


def _kind_key(kind: ReplicatedResource) -> str:
    return f"{kind.resource}.{kind.group}"


class Reflector:
    """Replicates ``kinds`` towards one peer over its ControlPlane identity.

    ``local`` may be a shared client without a request timeout (the operator's cached
    one): its requests here are bounded by :data:`REQUEST_TIMEOUT` (through a client on
    the same connections), and each reconciliation by :data:`RECONCILE_TIMEOUT`.
    """

    def __init__(
        self,
        *,
        peer: str,
        remote_namespace: str,
        local_cluster_id: str,
        local: Kube,
        remote: Kube,
        report: Callable[[str, str], None],
        kinds: Sequence[ReplicatedResource],
    ) -> None:
        self.peer = peer
        self.remote_namespace = remote_namespace
        self.local_cluster_id = local_cluster_id
        self.local = local
        self.remote = remote
        self.kinds = tuple(dict.fromkeys(kinds))
        self._report = report
        self._local = (
            local
            if local.request_timeout is not None
            else Kube(local.api, request_timeout=REQUEST_TIMEOUT)
        )
        self._kinds = {_kind_key(kind): kind for kind in self.kinds}
        if len(self._kinds) != len(self.kinds):
            raise ValueError("two replicated kinds share a resource name and group")
        #: Namespace of each local object seen, by kind and name (kept once it leaves the
        #: selection: it may still carry the finalizer).
        self._namespaces: dict[tuple[ReplicatedResource, str], str] = {}
        self._problems: dict[str, str] = {}
        self._rejected = asyncio.Event()
        self._rejection = ""
        self.controller = Controller(
            f"replication to {peer}",
            self._reconcile_key,
            backoff=ItemBackoff(base=0.5, cap=10.0),
        )
        self.local_informers: dict[ReplicatedResource, Informer] = {}
        self.remote_informers: dict[ReplicatedResource, Informer] = {}
        for kind in self.kinds:
            local_informer = self.local_informers[kind] = self._informer(
                "local", kind, kind.path(None), logic.local_selector(peer)
            )
            local_informer.add_event_handler(self._remembering(kind))
            self.controller.watch(local_informer, functools.partial(self._key, kind))
            remote_informer = self.remote_informers[kind] = self._informer(
                "remote",
                kind,
                kind.path(remote_namespace),
                logic.remote_selector(local_cluster_id),
            )
            # A trigger only: the controller reads the remote side from the peer, so it
            # need not wait for this list (a peer refusing one kind stalls no other).
            remote_informer.add_event_handler(self._queueing(kind))

    # --- running --------------------------------------------------------------------

    async def run(self) -> None:
        """Reflect until cancelled; raises ``AuthenticationError`` when credentials fail."""
        try:
            async with asyncio.TaskGroup() as group:
                for informer in self.informers():
                    group.create_task(informer.run(), name=f"informer {informer.describe()}")
                group.create_task(self.controller.run(), name=self.controller.name)
                group.create_task(self._until_rejected())
        except* AuthenticationError as failed:
            raise failed.exceptions[0] from None

    def informers(self) -> list[Informer]:
        """Every informer of the reflector, local ones first."""
        return [*self.local_informers.values(), *self.remote_informers.values()]

    async def _until_rejected(self) -> None:
        await self._rejected.wait()
        raise AuthenticationError(self._rejection)

    def _reject(self, message: str) -> None:
        """Credentials failed: stop :meth:`run` (and have the cached local client dropped)."""
        if self._local.unauthorized:
            self.local.unauthorized = True
        if not self._rejected.is_set():
            self._rejection = message
            self._rejected.set()

    def _informer(self, side: str, kind: ReplicatedResource, path: str, selector: str) -> Informer:
        where = f"{side}-{kind.resource}"
        return Informer(
            self._local if side == "local" else self.remote,
            path,
            label_selector=selector,
            watch_timeout=WATCH_SECONDS,
            backoff=retry_backoff(),
            on_error=functools.partial(self._watch_failed, where, side, kind),
            on_recovered=functools.partial(self._solved, where),
        )

    def _key(self, kind: ReplicatedResource, obj: JSONObject) -> str:
        return f"{_kind_key(kind)}/{obj['metadata']['name']}"

    def _remembering(self, kind: ReplicatedResource) -> EventHandler:
        def remember(obj: JSONObject) -> None:
            metadata = obj["metadata"]
            self._namespaces[(kind, metadata["name"])] = metadata["namespace"]

        return EventHandler(
            on_add=remember, on_update=lambda old, new: remember(new), on_delete=remember
        )

    def _queueing(self, kind: ReplicatedResource) -> EventHandler:
        def queue(obj: JSONObject) -> None:
            self.controller.queue.add(self._key(kind, obj))

        return EventHandler(on_add=queue, on_update=lambda old, new: queue(new), on_delete=queue)

    # --- problems ---------------------------------------------------------------------

    def _problem(self, where: str, reason: str, message: str) -> None:
        """Report a problem once (until it changes or is solved) as a Warning event."""
        if self._problems.get(where) == message:
            return
        self._problems[where] = message
        logger.warning("replication towards %s: %s", self.peer, message)
        self._report(reason, message)

    def _solved(self, where: str) -> None:
        self._problems.pop(where, None)

    def _watch_failed(
        self, where: str, side: str, kind: ReplicatedResource, exc: BaseException
    ) -> None:
        status = exc.status if isinstance(exc, KubeError) else None
        if status == 401:
            self._reject(f"{side} cluster rejected the credentials")
            return
        peer = f"peer {self.peer}" if side == "remote" else "the local cluster"
        if status == 403:
            reason = "RemoteForbidden" if side == "remote" else "LocalForbidden"
            text = f"{peer} forbids watching {kind.resource}"
        elif status is None:
            reason = "RemoteUnreachable" if side == "remote" else "LocalUnreachable"
            text = f"{peer} unreachable while watching {kind.resource}"
        else:
            reason = "RemoteError" if side == "remote" else "LocalError"
            text = f"{peer} failed watching {kind.resource}"
        self._problem(where, reason, f"{text}: {describe_error(exc)}")

    # --- reconciliation ---------------------------------------------------------------

    async def _reconcile_key(self, key: str) -> float | None:
        """The controller's reconcile: one object, bounded in time, its problems reported."""
        kind_key, _, name = key.partition("/")
        kind = self._kinds[kind_key]
        where = f"object-{kind.resource}-{name}"
        try:
            async with asyncio.timeout(RECONCILE_TIMEOUT):
                await self.reconcile(kind, name)
        except KubeError as exc:
            if exc.status == 401:
                self._reject("a cluster rejected the credentials")
                raise
            if exc.status == 409:  # a conflict is routine: read again
                logger.debug("replicating %s %s: %s", kind.kind, name, describe_error(exc))
                return CONFLICT_RETRY
            self._failed(where, kind, name, exc)
            raise
        except Exception as exc:
            self._failed(where, kind, name, exc)
            raise
        self._solved(where)
        return None

    def _failed(self, where: str, kind: ReplicatedResource, name: str, exc: Exception) -> None:
        self._problem(
            where,
            "ReplicationFailed",
            f"replicating {kind.kind} {name} to {self.peer} failed: {describe_error(exc)}",
        )

    async def _local_object(
        self, kind: ReplicatedResource, namespace: str, name: str
    ) -> JSONObject | None:
        """The local object: cached while selected, else (it may have left the selection
        with the finalizer on) read from the API."""
        cached = self.local_informers[kind].cache.get(f"{namespace}/{name}")
        if cached is not None:
            return cached
        return await self._local.get(kind.path(namespace, name))

    async def reconcile(self, kind: ReplicatedResource, name: str) -> None:
        """Bring the local object ``name`` and its remote copy in line."""
        namespace = self._namespaces.get((kind, name))
        local_path = kind.path(namespace, name) if namespace else None
        local = await self._local_object(kind, namespace, name) if namespace else None
        remote_path = kind.path(self.remote_namespace, name)
        remote = await self.remote.get(remote_path)
        foreign = remote is not None and not logic.is_our_copy(remote, self.local_cluster_id)
        if foreign:
            remote = None  # not ours: never written nor deleted
        live = local is not None and logic.selected(local, self.peer) and not logic.deleting(local)
        if live and foreign:
            self._problem(
                f"object-{kind.resource}-{name}",
                "ReplicationConflict",
                f"{kind.kind} {name} on {self.peer} exists and is not a copy from this cluster",
            )
            return
        if not live:
            if remote is not None:
                if not logic.deleting(remote):
                    await self.remote.delete(remote_path)
                    logger.info("deleted %s %s on %s", kind.kind, name, self.peer)
                return  # the remote DELETED event brings us back to drop the finalizer
            if local is not None and local_path is not None:
                await set_finalizer(
                    self._local, local_path, local, consts.CRD_REPLICATOR_RESOURCE_FINALIZER, False
                )
            elif namespace and f"{namespace}/{name}" not in self.local_informers[kind].cache:
                self._namespaces.pop((kind, name), None)  # nothing left to remember
            return
        assert local is not None and local_path is not None
        local = await set_finalizer(
            self._local, local_path, local, consts.CRD_REPLICATOR_RESOURCE_FINALIZER, True
        )
        desired = logic.desired_remote(local, kind, self.local_cluster_id, self.remote_namespace)
        if remote is None:
            remote = await self.remote.request("POST", kind.path(self.remote_namespace), desired)
            logger.info("created %s %s on %s", kind.kind, name, self.peer)
        else:
            updated = logic.remote_update(remote, desired)
            if updated is not None:
                remote = await self.remote.request("PUT", remote_path, updated)
                logger.info("updated %s %s on %s", kind.kind, name, self.peer)
        with_status = logic.status_update(local, remote)
        if with_status is not None:
            await self._local.request("PUT", kind.path(namespace, name, "status"), with_status)
            logger.info("copied the status of %s %s from %s", kind.kind, name, self.peer)
