"""Credential rotation: when to renew, per-object renewal timers, and the ``Renew`` channel.

A provider re-issues a credential once it has passed 2/3 of its lifetime
(:func:`renewal_time`); :class:`RenewalTimers` wakes the controller at that moment.

The new control-plane certificate reaches the consumer through a replicated ``Renew``:

- ``renew_local`` (consumer) keeps one ``Renew`` per ControlPlane Identity, named after
  it and owned by it, labelled for replication to the provider; when the provider's answer
  (``status.authParams``, replicated back) holds a newer certificate for this cluster's
  key, it is copied into ``Identity.spec.authParams``, so the kubeconfig Secret is
  rewritten and the replicator restarts with it.
- ``renew_remote`` (provider) fills the replicated ``Renew.status.authParams`` with
  ``Tenant.status.authParams`` of the consumer that owns the tenant namespace.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import kopf

from liqo_auth import crypto
from liqo_auth.identity import identities_path
from liqo_auth.keys import read_private_key
from liqo_auth.kube import operator_api
from liqo_auth.reconcile import with_retries
from liqo_core import LiqoSettings
from liqo_core.api.authentication_v1beta1 import GROUP, VERSION
from liqo_core.api.consts import (
    REMOTE_CLUSTER_ID_LABEL,
    REPLICATION_DESTINATION_LABEL,
    REPLICATION_ORIGIN_LABEL,
    REPLICATION_REQUESTED_LABEL,
    REPLICATION_STATUS_LABEL,
)
from liqo_core.kube import JSONObject, Kube

logger = logging.getLogger(__name__)

#: A credential is renewed once this fraction of its lifetime has passed.
RENEW_AT_FRACTION = 2 / 3
#: Kubernetes signers start certificates up to this many seconds in the past.
SIGNER_BACKDATE = 300.0
#: A freshly issued credential is not renewed again sooner than this (seconds).
MIN_RENEW_DELAY = 10.0
CONTROL_PLANE = "ControlPlane"


def renewal_time(not_before: float, not_after: float, lifetime: float | None = None) -> float:
    """When a credential valid from ``not_before`` to ``not_after`` (POSIX times) is renewed.

    Kubernetes signers backdate the start by up to 5 minutes, so the lifetime counted is
    ``lifetime`` (the one asked for) when the validity matches it, else the validity less
    that backdate when it is long enough to include one.
    """
    span = not_after - not_before
    if lifetime is not None and lifetime <= span <= lifetime + SIGNER_BACKDATE + 1:
        span = lifetime
    elif span > 2 * SIGNER_BACKDATE:
        span -= SIGNER_BACKDATE
    return not_after - span * (1 - RENEW_AT_FRACTION)


class RenewalTimers:
    """One pending wake-up per object, and a lock per object.

    :meth:`schedule` replaces the object's wake-up; the callback runs as a task at the
    given time. Callers hold :meth:`lock` while reconciling, so a wake-up and an event
    never reconcile the same object at once.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, key: str) -> asyncio.Lock:
        """The lock serialising the reconciliations of ``key``."""
        return self._locks.setdefault(key, asyncio.Lock())

    def due(self, key: str) -> bool:
        """Whether a wake-up is pending for ``key``."""
        task = self._tasks.get(key)
        return task is not None and not task.done()

    def schedule(self, key: str, at: float, wake: Callable[[], Awaitable[None]]) -> None:
        """Run ``wake()`` at POSIX time ``at``, replacing the pending wake-up of ``key``."""
        self._drop(key)

        async def sleep_then_wake() -> None:
            await asyncio.sleep(max(0.0, at - time.time()))
            await wake()

        task = asyncio.create_task(sleep_then_wake(), name=f"renewal of {key}")
        self._tasks[key] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._tasks.get(key) is done:
                del self._tasks[key]

        task.add_done_callback(forget)

    def unschedule(self, key: str) -> None:
        """Drop the pending wake-up of ``key`` (nothing is due)."""
        self._drop(key)

    def cancel(self, key: str) -> None:
        """Drop the pending wake-up and the lock of ``key`` (the object is gone)."""
        self._drop(key)
        self._locks.pop(key, None)

    def cancel_all(self) -> None:
        """Drop every pending wake-up (shutdown)."""
        for key in list(self._tasks):
            self._drop(key)

    def _drop(self, key: str) -> None:
        task = self._tasks.pop(key, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()


# --- The Renew channel -------------------------------------------------------------------------


def renews_path(namespace: str, name: str | None = None) -> str:
    """REST path of the Renews of ``namespace`` (or of one)."""
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/renews"
    return f"{base}/{quote(name)}" if name else base


def _validity(params: JSONObject | None) -> crypto.CertificateValidity | None:
    value = (params or {}).get("signedCRT")
    return crypto.certificate_validity(base64.b64decode(value)) if value else None


def adoptable_auth_params(
    offered: JSONObject | None, current: JSONObject | None, public_key: crypto.PublicKey
) -> bool:
    """Whether ``offered`` (a Renew's answer) should replace ``current`` (the Identity's).

    Only a different certificate for ``public_key`` that does not expire before the
    current one is taken, so a stale or foreign answer never breaks a working kubeconfig;
    from token-based providers, any new token. While the credential is unchanged, edits
    of the Identity's other fields are left alone.
    """
    if not offered or all(
        offered.get(key) == (current or {}).get(key) for key in ("signedCRT", "token")
    ):
        return False
    if not offered.get("signedCRT"):
        return bool(offered.get("token")) and offered.get("token") != (current or {}).get("token")
    new = _validity(offered)
    if new is None or not crypto.same_public_key(new.public_key, public_key):
        return False
    old = _validity(current)
    return old is None or new.not_after >= old.not_after


def desired_renew(
    identity: JSONObject, consumer: str, public_key_pem: bytes, csr: bytes
) -> JSONObject:
    """The Renew kept for a ControlPlane Identity (same name and namespace, owned by it)."""
    meta = identity["metadata"]
    provider = identity["spec"]["clusterID"]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Renew",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": {
                REPLICATION_REQUESTED_LABEL: "true",
                REPLICATION_DESTINATION_LABEL: provider,
                REMOTE_CLUSTER_ID_LABEL: provider,
            },
            "ownerReferences": [
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Identity",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "consumerClusterID": consumer,
            "identityType": CONTROL_PLANE,
            "publicKey": base64.b64encode(public_key_pem).decode(),
            "csr": base64.b64encode(csr).decode(),
        },
    }


async def ensure_renew(api: Kube, settings: LiqoSettings, namespace: str, name: str) -> None:
    """Create or correct the Renew of ControlPlane Identity ``namespace/name``."""
    identity = await api.get(identities_path(namespace, name))
    if identity is None:
        return
    if identity["metadata"].get("deletionTimestamp"):
        await delete_renew(api, namespace, name, identity["metadata"]["uid"])
        return
    if (identity.get("spec") or {}).get("type") != CONTROL_PLANE:
        return
    consumer = settings.cluster_id
    if not consumer:
        raise ValueError("this cluster has no clusterID: cannot ask for renewals")
    key = await read_private_key(api, settings.namespace)
    existing = await api.get(renews_path(namespace, name))
    csr = _reusable_csr(existing, consumer, crypto.public_key_pem(key))
    if csr is None:
        csr = crypto.make_csr(key, consumer, crypto.CONTROL_PLANE_ORGANIZATION)
    desired = desired_renew(identity, consumer, crypto.public_key_pem(key), csr)
    if existing is None:
        if await api.create(renews_path(namespace), desired) is not None:
            logger.info("Renew %s/%s created", namespace, name)
            return
        existing = await api.get(renews_path(namespace, name)) or {}
    meta = existing.get("metadata") or {}
    labels = meta.get("labels") or {}
    want = desired["metadata"]
    if (
        existing.get("spec") != desired["spec"]
        or meta.get("ownerReferences") != want["ownerReferences"]
        or any(labels.get(k) != v for k, v in want["labels"].items())
    ):
        patch = {
            "metadata": {"labels": want["labels"], "ownerReferences": want["ownerReferences"]},
            "spec": desired["spec"],
        }
        await api.merge_patch(renews_path(namespace, name), patch)


def _reusable_csr(renew: JSONObject | None, consumer: str, public_key_pem: bytes) -> bytes | None:
    """The Renew's CSR if it still asks for this cluster's control-plane identity."""
    value = ((renew or {}).get("spec") or {}).get("csr")
    if not value:
        return None
    pem = base64.b64decode(value)
    key = crypto.load_public_key(public_key_pem)
    problem = crypto.check_csr(pem, consumer, crypto.CONTROL_PLANE_ORGANIZATION, key)
    return pem if problem is None else None


async def delete_renew(api: Kube, namespace: str, name: str, uid: str) -> None:
    """Delete the Renew of ControlPlane Identity ``name`` (``uid``), which is going away."""
    renew = await api.get(renews_path(namespace, name))
    if renew is None or renew["metadata"].get("deletionTimestamp"):
        return
    owners = renew["metadata"].get("ownerReferences") or []
    if any(o.get("kind") == "Identity" and o.get("uid") == uid for o in owners):
        await api.delete(renews_path(namespace, name))
        logger.info("Renew %s/%s deleted with its Identity", namespace, name)


async def adopt_renewed(api: Kube, settings: LiqoSettings, namespace: str, name: str) -> bool:
    """Copy a local Renew's answer into its Identity; return whether the Identity changed."""
    renew = await api.get(renews_path(namespace, name))
    if renew is None or (renew.get("spec") or {}).get("identityType") != CONTROL_PLANE:
        return False
    offered = (renew.get("status") or {}).get("authParams")
    owner = next(
        (
            o["name"]
            for o in renew["metadata"].get("ownerReferences") or []
            if o.get("kind") == "Identity"
        ),
        name,
    )
    identity = await api.get(identities_path(namespace, owner))
    if identity is None or identity["metadata"].get("deletionTimestamp"):
        return False
    current = (identity.get("spec") or {}).get("authParams")
    key = await read_private_key(api, settings.namespace)
    public_key = crypto.load_public_key(crypto.public_key_pem(key))
    if not adoptable_auth_params(offered, current, public_key):
        return False
    patch = [
        {"op": "test", "path": "/metadata/resourceVersion",
         "value": identity["metadata"]["resourceVersion"]},
        {"op": "replace" if current is not None else "add", "path": "/spec/authParams",
         "value": offered},
    ]  # fmt: skip
    await api.json_patch(identities_path(namespace, owner), patch)
    return True


async def answer_renew(api: Kube, namespace: str, name: str) -> bool:
    """Fill a replicated Renew's status from its consumer's Tenant; return whether it changed."""
    renew = await api.get(renews_path(namespace, name))
    if renew is None or renew["metadata"].get("deletionTimestamp"):
        return False
    spec = renew.get("spec") or {}
    if spec.get("identityType") != CONTROL_PLANE:
        return False
    origin = (renew["metadata"].get("labels") or {}).get(REPLICATION_ORIGIN_LABEL)
    consumer = spec.get("consumerClusterID")
    tenants = await api.list_items(f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/tenants")
    tenant = next(
        (t for t in tenants if (t.get("spec") or {}).get("clusterID") == consumer == origin), None
    )
    if tenant is None:
        logger.warning(
            "Renew %s/%s: no Tenant of consumer %s in this namespace", namespace, name, consumer
        )
        return False
    params = (tenant.get("status") or {}).get("authParams")
    if not params or (renew.get("status") or {}).get("authParams") == params:
        return False
    await api.merge_patch(
        renews_path(namespace, name) + "/status", {"status": {"authParams": params}}
    )
    return True


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings) -> None:
    """Register ``renew_local`` (consumer) and ``renew_remote`` (provider)."""

    def retried(what: str, memo: kopf.Memo, step: Callable[[Kube], Awaitable[Any]]) -> Any:
        async def work() -> None:
            async with operator_api(memo.kube_target) as api:
                await step(api)

        return with_retries(logger, what, work)

    @kopf.on.event(GROUP, VERSION, "identities", registry=registry, id="renew_local-identity")
    async def identity_changed(
        body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any
    ) -> None:
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""
        if (body.get("spec") or {}).get("type") != CONTROL_PLANE:
            return

        async def step(api: Kube) -> None:
            if type == "DELETED":
                await delete_renew(api, namespace, name, body.metadata.uid or "")
            else:
                await ensure_renew(api, settings, namespace, name)

        await retried(f"Renew for Identity {namespace}/{name}", memo, step)

    @kopf.on.event(
        GROUP, VERSION, "renews", registry=registry, id="renew_local",
        labels={REPLICATION_REQUESTED_LABEL: "true", REPLICATION_DESTINATION_LABEL: kopf.PRESENT},
    )  # fmt: skip
    async def local_renew_changed(
        body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any
    ) -> None:
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""

        async def step(api: Kube) -> None:
            if type == "DELETED":  # recreated while its Identity is there
                await ensure_renew(api, settings, namespace, name)
            elif await adopt_renewed(api, settings, namespace, name):
                logger.info("Identity of Renew %s/%s: renewed credentials adopted", namespace, name)
                kopf.event(
                    body, type="Normal", reason="CertificateRenewed",
                    message="Renewed control-plane credentials copied into the Identity",
                )  # fmt: skip

        await retried(f"Renew {namespace}/{name}", memo, step)

    @kopf.on.event(
        GROUP, VERSION, "renews", registry=registry, id="renew_remote",
        labels={REPLICATION_STATUS_LABEL: "true", REPLICATION_ORIGIN_LABEL: kopf.PRESENT},
    )  # fmt: skip
    async def remote_renew_changed(
        body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any
    ) -> None:
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""
        if type == "DELETED":
            return

        async def step(api: Kube) -> None:
            if await answer_renew(api, namespace, name):
                logger.info("Renew %s/%s: answered with the Tenant's credentials", namespace, name)

        await retried(f"Renew {namespace}/{name}", memo, step)

    @kopf.on.event(GROUP, VERSION, "tenants", registry=registry, id="renew_remote-tenant")
    async def tenant_changed(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
        status = body.get("status") or {}
        tenant_ns = status.get("tenantNamespace")
        if type == "DELETED" or not tenant_ns or not status.get("authParams"):
            return
        selector = f"{REPLICATION_STATUS_LABEL}=true,{REPLICATION_ORIGIN_LABEL}"

        async def step(api: Kube) -> None:
            for renew in await api.list_items(renews_path(tenant_ns), selector):
                if await answer_renew(api, tenant_ns, renew["metadata"]["name"]):
                    logger.info(
                        "Renew %s/%s: answered with the Tenant's new credentials",
                        tenant_ns, renew["metadata"]["name"],
                    )  # fmt: skip

        await retried(f"Renews of Tenant {body.metadata.name}", memo, step)
