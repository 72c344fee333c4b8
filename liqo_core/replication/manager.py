"""Runs one reflector per ControlPlane kubeconfig Secret, restarting it when the kubeconfig changes.

The Secret carries finalizer ``crdreplicator.liqo.io/operator`` while its reflector runs.
When the Secret is deleted the reflector stops, the finalizer
``crdreplicator.liqo.io/resource`` is taken off the local objects replicated to that
peer (nothing can delete their remote copies any more, and deleting them locally must
not hang), the remote copies are left to the peer, then the Secret's finalizer goes.

The local cluster is reached through the operator's shared client
(:func:`liqo_core.kube.kube_client`); the peer through a client built from the Secret's
kubeconfig, one per reflector run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import kopf

from liqo_core.api import consts
from liqo_core.kube import (
    Kube,
    KubeConfigError,
    KubeError,
    KubeTarget,
    describe_error,
    kube_client,
)
from liqo_core.replication import ReplicatedResource, logic
from liqo_core.replication.reflector import (
    REQUEST_TIMEOUT,
    TRANSIENT_ERRORS,
    Reflector,
    retry_backoff,
    set_finalizer,
)

logger = logging.getLogger(__name__)

#: A reflector that ran this long (seconds) before failing starts its back-off afresh.
RESET_AFTER = 60.0


class InvalidKubeconfigError(Exception):
    """The Secret's kubeconfig cannot be used (the message never quotes it)."""


@dataclass(frozen=True)
class Target:
    """What a ControlPlane Secret asks for."""

    peer: str
    remote_namespace: str
    kubeconfig: bytes

    @property
    def fingerprint(self) -> str:
        digest = logic.kubeconfig_hash(self.kubeconfig)
        return f"{self.peer}/{self.remote_namespace}/{digest}"


@dataclass
class Running:
    fingerprint: str
    task: asyncio.Task[None]


def secret_target(body: Mapping[str, Any]) -> Target | None:
    """The peer, remote tenant namespace and kubeconfig of a Secret (``None``: unusable)."""
    metadata = body.get("metadata") or {}
    peer = (metadata.get("labels") or {}).get(consts.REMOTE_CLUSTER_ID_LABEL)
    remote_ns = (metadata.get("annotations") or {}).get(consts.REMOTE_TENANT_NAMESPACE_ANNOTATION)
    encoded = (body.get("data") or {}).get(logic.KUBECONFIG_KEY)
    if not peer or not remote_ns or not encoded:
        return None
    try:
        kubeconfig = base64.b64decode(encoded, validate=True)
    except ValueError:
        return None
    return Target(peer, remote_ns, kubeconfig)


async def remote_api_client(kubeconfig: bytes) -> Kube:
    """A client for the peer from a kubeconfig held in memory."""
    try:
        return await Kube.from_kubeconfig(kubeconfig, request_timeout=REQUEST_TIMEOUT)
    except KubeConfigError as exc:
        raise InvalidKubeconfigError(f"key {exc}") from None


class ReplicationManager:
    """One reflector task per ControlPlane Secret, keyed by the Secret's namespace/name.

    :param local_cluster_id: This cluster's id (``liqo.io/originID`` of the copies).
    :param resources: The kinds to replicate (duplicates are ignored).
    """

    def __init__(self, local_cluster_id: str, resources: Sequence[ReplicatedResource]) -> None:
        self.local_cluster_id = local_cluster_id
        self.resources = tuple(dict.fromkeys(resources))
        #: The cluster the operator watches (``memo.kube_target``), set by the first event.
        self.local_target: KubeTarget | None = None
        self._running: dict[tuple[str, str], Running] = {}

    async def on_event(self, event_type: str | None, body: kopf.Body, local: KubeTarget) -> None:
        """React to one event of a ControlPlane Secret of the cluster ``local``."""
        self.local_target = local
        key = _key(body)
        if event_type == "DELETED":
            await self._stop(key)
            return
        target = secret_target(body)
        if body.metadata.get("deletionTimestamp"):
            await self._stop(key)
            await self._release(body, target)
            return
        if target is None:
            await self._stop(key)
            kopf.warn(
                body,
                reason="InvalidIdentitySecret",
                message="needs label liqo.io/remote-cluster-id, annotation "
                "liqo.io/remote-tenant-namespace and a base64 kubeconfig in key kubeconfig",
            )
            return
        running = self._running.get(key)
        if (
            running is not None
            and running.fingerprint == target.fingerprint
            and not running.task.done()
        ):
            return
        await self._stop(key)
        logger.info(
            "starting replication towards %s (remote namespace %s, kubeconfig %s)",
            target.peer,
            target.remote_namespace,
            logic.kubeconfig_hash(target.kubeconfig),
        )
        task = asyncio.create_task(self._reflect(target, body), name=f"replicator-{key}")
        self._running[key] = Running(target.fingerprint, task)

    async def stop_all(self) -> None:
        for key in list(self._running):
            await self._stop(key)

    async def _stop(self, key: tuple[str, str]) -> None:
        running = self._running.pop(key, None)
        if running is None:
            return
        running.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running.task

    async def _reflect(self, target: Target, body: kopf.Body) -> None:
        """Run the reflector, rebuilding clients after failures, with back-off."""
        backoff = retry_backoff()
        loop = asyncio.get_running_loop()
        reported: list[str] = []

        def report(reason: str, message: str) -> None:
            kopf.warn(body, reason=reason, message=message)

        def report_once(reason: str, message: str) -> None:
            if reported[-1:] != [message]:
                reported.append(message)
                report(reason, message)

        while True:
            started = loop.time()
            try:
                async with kube_client(self._local_target()) as local:
                    await self._ensure_secret_finalizer(local, body)
                    remote = await remote_api_client(target.kubeconfig)
                    try:
                        reflector = Reflector(
                            peer=target.peer,
                            remote_namespace=target.remote_namespace,
                            local_cluster_id=self.local_cluster_id,
                            local=local,
                            remote=remote,
                            report=report,
                            kinds=self.resources,
                        )
                        await reflector.run()
                    finally:
                        await remote.close()
            except InvalidKubeconfigError as exc:
                report_once("InvalidKubeconfig", str(exc))
            except Exception as exc:
                leaf = _leaf(exc)
                message = f"replication to {target.peer}: {describe_error(leaf)}"
                logger.warning("%s", message)
                report_once("ReplicationFailed", message)
            if loop.time() - started > RESET_AFTER:
                backoff.reset()
            await asyncio.sleep(backoff.next_delay())

    def _local_target(self) -> KubeTarget:
        """The local cluster, with the operator's credentials."""
        if self.local_target is None:
            raise RuntimeError("no local cluster yet: on_event() sets it")
        return self.local_target

    async def _ensure_secret_finalizer(self, api: Kube, body: kopf.Body) -> None:
        """Finalizer ``crdreplicator.liqo.io/operator`` on the Secret before reflecting."""
        path = _secret_path(body)
        async with asyncio.timeout(REQUEST_TIMEOUT):
            current = await api.get(path)
            if current is not None and not logic.deleting(current):
                finalizer = consts.CRD_REPLICATOR_OPERATOR_FINALIZER
                await set_finalizer(api, path, current, finalizer, True)

    async def _release(self, body: kopf.Body, target: Target | None) -> None:
        """The Secret is going: free the local objects, then the Secret (retried)."""
        backoff = retry_backoff()
        while logic.has_finalizer(dict(body), consts.CRD_REPLICATOR_OPERATOR_FINALIZER):
            try:
                async with kube_client(self._local_target()) as api:
                    if target is not None:
                        await self._release_local_objects(api, target.peer)
                    path = _secret_path(body)
                    current = await api.get(path)
                    if current is not None:
                        await set_finalizer(
                            api, path, current, consts.CRD_REPLICATOR_OPERATOR_FINALIZER, False
                        )
                logger.info("stopped replication for Secret %s/%s", *_key(body))
                return
            except (KubeError, *TRANSIENT_ERRORS) as exc:
                logger.warning("cannot release Secret %s/%s: %s", *_key(body), describe_error(exc))
            await asyncio.sleep(backoff.next_delay())

    async def _release_local_objects(self, api: Kube, peer: str) -> None:
        for kind in self.resources:
            items = await api.list_items(kind.path(None), logic.local_selector(peer))
            for item in items:
                metadata = item["metadata"]
                path = kind.path(metadata["namespace"], metadata["name"])
                await set_finalizer(
                    api, path, item, consts.CRD_REPLICATOR_RESOURCE_FINALIZER, False
                )


def _key(body: kopf.Body) -> tuple[str, str]:
    return body.metadata.namespace or "", body.metadata.name or ""


def _secret_path(body: kopf.Body) -> str:
    namespace, name = _key(body)
    return f"/api/v1/namespaces/{namespace}/secrets/{name}"


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
