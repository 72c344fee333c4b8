"""One peer's reflector: keeps the replicated kinds' objects in sync with the peer.

For each replicated kind (a :class:`~liqo_core.replication.ReplicatedResource` a module
declared) it list+watches the local objects selected for the peer and the copies this
cluster made in the peer's tenant namespace (re-listing after a 410), and a single worker
reconciles one object name at a time from both sides: spec and labels local -> remote
(the copy's annotations stay the peer's), status remote -> local, finalizer
``crdreplicator.liqo.io/resource`` on the local object until its remote copy is gone.
Every decision is re-derived from the two clusters' state, so a restart anywhere
converges without duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence

import aiohttp

from liqo_core.api import consts
from liqo_core.kube import Kube, KubeError, WatchExpiredError, describe_error
from liqo_core.replication import ReplicatedResource, logic
from liqo_core.replication.logic import JSONObject

logger = logging.getLogger(__name__)

#: Longest wait of one API request.
REQUEST_TIMEOUT = 15.0
#: Longest reconciliation of one object (a few requests to either cluster).
RECONCILE_TIMEOUT = 4 * REQUEST_TIMEOUT
#: Server-side end of each watch (then it is resumed from the last resourceVersion).
WATCH_SECONDS = 120


#: Failures worth a retry: network, timeouts, undecodable answers.
TRANSIENT_ERRORS = (OSError, TimeoutError, ValueError, aiohttp.ClientError)


class AuthenticationError(Exception):
    """The cluster rejected the credentials (HTTP 401): new clients are needed."""


class Backoff:
    """Exponential back-off with jitter: 0.5 s doubling up to ``limit`` (10 s)."""

    def __init__(self, first: float = 0.5, limit: float = 10.0) -> None:
        self.first = first
        self.limit = limit
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.limit, self.first * 2**self.failures)
        self.failures += 1
        return float(delay * random.uniform(0.8, 1.0))

    def reset(self) -> None:
        self.failures = 0


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


class Reflector:
    """Replicates ``kinds`` towards one peer over its ControlPlane identity.

    ``local`` may be a shared client without a request timeout (the operator's cached
    one): lists are bounded by :data:`REQUEST_TIMEOUT` and each reconciliation by
    :data:`RECONCILE_TIMEOUT` here.
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
        self._queue: asyncio.Queue[tuple[ReplicatedResource, str]] = asyncio.Queue()
        self._queued: set[tuple[ReplicatedResource, str]] = set()
        self._failures: dict[tuple[ReplicatedResource, str], Backoff] = {}
        self._namespaces: dict[tuple[ReplicatedResource, str], str] = {}
        self._known: dict[tuple[str, ReplicatedResource], set[str]] = {}
        self._local_synced = {kind: asyncio.Event() for kind in kinds}
        self._problems: dict[str, str] = {}

    # --- running --------------------------------------------------------------------

    async def run(self) -> None:
        """Reflect until cancelled; raises ``AuthenticationError`` when credentials fail."""
        local_selector = logic.local_selector(self.peer)
        remote_selector = logic.remote_selector(self.local_cluster_id)
        async with asyncio.TaskGroup() as group:
            for kind in self.kinds:
                local_path, remote_path = kind.path(None), kind.path(self.remote_namespace)
                group.create_task(
                    self._list_watch("local", self.local, kind, local_path, local_selector)
                )
                group.create_task(
                    self._list_watch("remote", self.remote, kind, remote_path, remote_selector)
                )
            group.create_task(self._work())

    def _problem(self, where: str, reason: str, message: str) -> None:
        """Report a problem once (until it changes or is solved) as a Warning event."""
        if self._problems.get(where) == message:
            return
        self._problems[where] = message
        logger.warning("replication towards %s: %s", self.peer, message)
        self._report(reason, message)

    def _solved(self, where: str) -> None:
        self._problems.pop(where, None)

    async def _list_watch(
        self, side: str, kube: Kube, kind: ReplicatedResource, path: str, selector: str
    ) -> None:
        backoff = Backoff()
        where = f"{side}-{kind.resource}"
        while True:
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    listing = await kube.request("GET", path, query={"labelSelector": selector})
                version = str((listing.get("metadata") or {}).get("resourceVersion") or "")
                names: set[str] = set()
                for item in listing.get("items") or []:
                    names.add(item["metadata"]["name"])
                    self._observe(side, kind, item)
                # Objects that left the selection while we were not watching.
                for name in self._known.get((side, kind), set()) - names:
                    self._enqueue(kind, name)
                self._known[(side, kind)] = names
                if side == "local":
                    self._local_synced[kind].set()
                backoff.reset()
                self._solved(where)
                while True:
                    async for event in kube.watch(
                        path, version, label_selector=selector, timeout_seconds=WATCH_SECONDS
                    ):
                        obj = event.get("object") or {}
                        if event.get("type") == "ERROR":
                            reason, message = (
                                str(obj.get("reason") or ""),
                                str(obj.get("message") or ""),
                            )
                            raise KubeError(obj.get("code") or 500, reason, message)
                        version = str(obj.get("metadata", {}).get("resourceVersion") or version)
                        if event.get("type") == "BOOKMARK":
                            continue
                        name = obj["metadata"]["name"]
                        if event.get("type") == "DELETED":
                            self._known.setdefault((side, kind), set()).discard(name)
                        else:
                            self._known.setdefault((side, kind), set()).add(name)
                        self._observe(side, kind, obj)
            except WatchExpiredError:
                logger.info("%s %s watch expired, listing again", side, kind.resource)
            except KubeError as exc:
                if exc.status == 401:
                    raise AuthenticationError(f"{side} cluster rejected the credentials") from None
                self._failed(where, side, kind, exc)
                await asyncio.sleep(backoff.next_delay())
            except TRANSIENT_ERRORS as exc:
                self._failed(where, side, kind, exc)
                await asyncio.sleep(backoff.next_delay())

    def _failed(self, where: str, side: str, kind: ReplicatedResource, exc: BaseException) -> None:
        status = getattr(exc, "status", None)
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

    def _observe(self, side: str, kind: ReplicatedResource, obj: JSONObject) -> None:
        metadata = obj.get("metadata") or {}
        name = metadata.get("name")
        if not name:
            return
        if side == "local" and metadata.get("namespace"):
            self._namespaces[(kind, name)] = metadata["namespace"]
        self._enqueue(kind, name)

    def _enqueue(self, kind: ReplicatedResource, name: str) -> None:
        key = (kind, name)
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    async def _work(self) -> None:
        # A remote copy whose local object is not listed yet must not look orphaned.
        for synced in self._local_synced.values():
            await synced.wait()
        loop = asyncio.get_running_loop()
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            kind, name = key
            try:
                async with asyncio.timeout(RECONCILE_TIMEOUT):
                    await self.reconcile(kind, name)
            except KubeError as exc:
                if exc.status == 401:
                    raise AuthenticationError("a cluster rejected the credentials") from None
                self._retry(loop, key, exc)
            except TRANSIENT_ERRORS as exc:
                self._retry(loop, key, exc)
            else:
                self._failures.pop(key, None)
                self._solved(f"object-{kind.resource}-{name}")

    def _retry(
        self, loop: asyncio.AbstractEventLoop, key: tuple[ReplicatedResource, str], exc: Exception
    ) -> None:
        kind, name = key
        backoff = self._failures.setdefault(key, Backoff())
        if getattr(exc, "status", None) != 409:  # a conflict is routine: read again
            self._problem(
                f"object-{kind.resource}-{name}",
                "ReplicationFailed",
                f"replicating {kind.kind} {name} to {self.peer} failed: {describe_error(exc)}",
            )
        loop.call_later(backoff.next_delay(), self._enqueue, kind, name)

    # --- reconciliation ---------------------------------------------------------------

    async def reconcile(self, kind: ReplicatedResource, name: str) -> None:
        """Bring the local object ``name`` and its remote copy in line."""
        namespace = self._namespaces.get((kind, name))
        local_path = kind.path(namespace, name) if namespace else None
        local = await self.local.get(local_path) if local_path else None
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
                    self.local, local_path, local, consts.CRD_REPLICATOR_RESOURCE_FINALIZER, False
                )
            elif local is None:
                self._namespaces.pop((kind, name), None)  # nothing left to remember
            return
        assert local is not None and local_path is not None
        local = await set_finalizer(
            self.local, local_path, local, consts.CRD_REPLICATOR_RESOURCE_FINALIZER, True
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
            await self.local.request("PUT", kind.path(namespace, name, "status"), with_status)
            logger.info("copied the status of %s %s from %s", kind.kind, name, self.peer)
