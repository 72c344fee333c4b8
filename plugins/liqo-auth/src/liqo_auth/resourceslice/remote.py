"""The ``resourceslice_remote`` controller (provider): authenticate and grant replicated slices.

A replicated slice (labels ``liqo.io/replicated=true``, ``liqo.io/originID=<consumer>``)
with a CSR is checked against the consumer's Tenant: it must sit in the consumer's tenant
namespace, a Tenant must exist there and the CSR must ask for ``CN=<slice CN>,
O=<consumer>`` with the Tenant's public key (not checked under ``TolerateNoHandshake``).
Then the identity provider issues the slice's credential into ``status.authParams``
(re-issued once past 2/3 of its lifetime) and condition ``Authentication`` is
``Accepted``. Condition ``Resources`` follows the tenant condition and the slice class
(:func:`~liqo_auth.resourceslice.common.decide_resources`); the default class grants the
default node resources overlaid with the requested ones. Every slice of a consumer is
reconciled again when its Tenant changes.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import kopf

from liqo_auth import crypto
from liqo_auth.bindings import bind_consumer, unbind_member
from liqo_auth.kube import operator_api
from liqo_auth.reconcile import with_retries
from liqo_auth.renew import MIN_RENEW_DELAY, RenewalTimers, renewal_time
from liqo_auth.resourceslice.common import (
    ACCEPTED,
    AUTHENTICATION,
    DENIED,
    REPLICATED_SLICE_LABELS,
    RESOURCES,
    condition_status,
    credential_window,
    decide_resources,
    labels_of,
    overlay_resources,
    slice_common_name,
    slices_path,
    with_condition,
)
from liqo_auth.settings import auth_settings
from liqo_auth.tenant import api_server_url, cluster_ca, tenant_namespace_for, tenants_path
from liqo_core import LiqoSettings
from liqo_core.api.authentication_v1beta1 import GROUP, VERSION
from liqo_core.api.consts import (
    REPLICATION_ORIGIN_LABEL,
    REPLICATION_STATUS_LABEL,
)
from liqo_core.identity import CredentialRequest, IdentityProvider
from liqo_core.kube import JSONObject, Kube

logger = logging.getLogger(__name__)

#: Extra seconds after a renewal deadline before the slice is reconciled again.
RENEWAL_MARGIN = 1.0


class AuthenticationDenied(Exception):
    """The slice cannot be authenticated."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass
class SliceContext:
    """What one reconciliation works with."""

    api: Kube
    settings: LiqoSettings
    provider: IdentityProvider


def replicated_selector(consumer: str | None = None) -> str:
    """Label selector of replicated slices (of one consumer)."""
    origin = f"={consumer}" if consumer else ""
    return f"{REPLICATION_STATUS_LABEL}=true,{REPLICATION_ORIGIN_LABEL}{origin}"


def _decode(value: str | None) -> bytes:
    try:
        return base64.b64decode(value or "")
    except (ValueError, binascii.Error):
        return b""


async def consumer_tenant(api: Kube, consumer: str, namespace: str) -> JSONObject:
    """The consumer's Tenant, if ``namespace`` is its tenant namespace."""
    if await tenant_namespace_for(api, consumer, namespace) != namespace:
        raise AuthenticationDenied(
            "NotInTenantNamespace", f"{namespace} is not the tenant namespace of {consumer}"
        )
    tenants = await api.list_items(tenants_path(namespace))
    for tenant in tenants:
        if (tenant.get("spec") or {}).get("clusterID") == consumer and not tenant["metadata"].get(
            "deletionTimestamp"
        ):
            return tenant
    raise AuthenticationDenied("TenantNotFound", f"no Tenant for {consumer} in {namespace}")


def check_slice_csr(
    csr_pem: bytes, common_name: str, consumer: str, tenant_spec: JSONObject
) -> crypto.PublicKey:
    """The CSR's key, once its subject (and, under KeysExchange, its key) is checked."""
    try:
        key = crypto.csr_public_key(crypto.load_csr(csr_pem))
        if tenant_spec.get("authzPolicy") != "TolerateNoHandshake":
            key = crypto.load_public_key(_decode(tenant_spec.get("publicKey")))
    except crypto.CryptoError as err:
        raise AuthenticationDenied("CSRVerificationFailed", str(err)) from None
    problem = crypto.check_csr(csr_pem, common_name, consumer, key)
    if problem is not None:
        raise AuthenticationDenied("CSRVerificationFailed", problem)
    return key


def reusable_deadline(
    auth_params: JSONObject | None, key: crypto.PublicKey, lifetime: float | None, now: float
) -> float | None:
    """When the credential in ``auth_params`` is due for renewal; ``None`` if unusable now."""
    if not auth_params:
        return None
    window = credential_window(auth_params)
    if window is None:
        return None
    if auth_params.get("signedCRT"):
        validity = crypto.certificate_validity(_decode(auth_params["signedCRT"]))
        if validity is None or not crypto.same_public_key(validity.public_key, key):
            return None
    deadline = renewal_time(*window, lifetime)
    return deadline if now < deadline else None


async def _issue(
    ctx: SliceContext, body: JSONObject, consumer: str, common_name: str, csr_pem: bytes
) -> tuple[JSONObject, float]:
    """A fresh credential for the slice, as ``authParams``, and its renewal time."""
    meta = body["metadata"]
    request = CredentialRequest(
        consumer_cluster_id=consumer,
        identity_type="ResourceSlice",
        name=meta["name"],
        tenant_namespace=meta["namespace"],
        user=common_name,
        groups=(consumer,),
        csr=csr_pem,
    )
    issued = await ctx.provider.issue(ctx.api, request)
    params: JSONObject = {
        "ca": base64.b64encode(await cluster_ca(ctx.api, ctx.settings)).decode(),
        "apiServer": api_server_url(ctx.api, ctx.settings),
    }
    if issued.signed_crt is not None:
        params["signedCRT"] = base64.b64encode(issued.signed_crt).decode()
    elif issued.token is not None:
        params["token"] = issued.token
        # A token carries no group: bind this slice's credential as a member of the
        # consumer's group (certificates are covered by the Tenant's Group binding).
        await bind_consumer(ctx.api, ctx.provider, request, control_plane=False)
    else:
        raise RuntimeError(f"identity provider {ctx.provider.name} issued no credential")
    lifetime = auth_settings(ctx.settings).credential_lifetime
    deadline = renewal_time(issued.not_before.timestamp(), issued.not_after.timestamp(), lifetime)
    return params, max(deadline, time.time() + MIN_RENEW_DELAY)


def _event(body: JSONObject, kind: str, condition: JSONObject) -> None:
    status, reason, message = condition["status"], condition["reason"], condition["message"]
    kopf.event(
        kopf.Body(cast("kopf.RawBody", body)),
        type="Normal" if status == ACCEPTED else "Warning",
        reason=f"ResourceSlice{kind}{status}",
        message=f"{reason}: {message}",
    )


async def reconcile(ctx: SliceContext, namespace: str, name: str) -> float | None:
    """Authenticate and grant one replicated slice; return when to reconcile it again."""
    api = ctx.api
    body = await api.get(slices_path(namespace, name))
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    consumer = labels_of(body).get(REPLICATION_ORIGIN_LABEL)
    spec = body.get("spec") or {}
    csr_pem = _decode(spec.get("csr"))
    if not consumer or not csr_pem:
        return None
    status = body.get("status") or {}
    conditions: list[JSONObject] = list(status.get("conditions") or [])
    desired: JSONObject = {}
    deadline: float | None = None
    common_name = slice_common_name(name, consumer)
    try:
        tenant = await consumer_tenant(api, consumer, namespace)
        tenant_spec = tenant.get("spec") or {}
        tenant_condition = tenant_spec.get("tenantCondition") or "Active"
        if tenant_condition == "Drained":
            raise AuthenticationDenied("TenantDrained", f"the tenant of {consumer} is drained")
        key = check_slice_csr(csr_pem, common_name, consumer, tenant_spec)
    except AuthenticationDenied as denied:
        for kind in (AUTHENTICATION, RESOURCES):
            conditions = with_condition(conditions, kind, DENIED, denied.reason, denied.message)
        desired = {"authParams": None, "resources": None}
    else:
        lifetime = auth_settings(ctx.settings).credential_lifetime
        params = status.get("authParams")
        deadline = reusable_deadline(params, key, lifetime, time.time())
        if deadline is None:
            params, deadline = await _issue(ctx, body, consumer, common_name, csr_pem)
            logger.info("ResourceSlice %s/%s: credential issued", namespace, name)
        desired["authParams"] = params
        conditions = with_condition(
            conditions, AUTHENTICATION, ACCEPTED, "CredentialsIssued",
            f"credentials issued to {common_name}",
        )  # fmt: skip
        decision = decide_resources(
            tenant_condition,
            spec.get("class"),
            auth_settings(ctx.settings).default_resource_slice_class_enabled,
            condition_status(body, RESOURCES),
        )
        if decision is not None:
            conditions = with_condition(
                conditions, RESOURCES, decision.status, decision.reason, decision.message
            )
            if decision.status == ACCEPTED:
                defaults = auth_settings(ctx.settings).default_node_resources
                desired["resources"] = overlay_resources(defaults, spec.get("resources"))
                desired["nodeLabels"] = dict(auth_settings(ctx.settings).cluster_labels) or None
            else:
                desired["resources"] = None
    desired["conditions"] = conditions
    if any(status.get(k) != v for k, v in desired.items()):
        await api.merge_patch(slices_path(namespace, name, "status"), {"status": desired})
        for kind in (AUTHENTICATION, RESOURCES):
            before = condition_status(body, kind)
            after = next((c for c in conditions if c["type"] == kind), None)
            if after is not None and after["status"] != before:
                _event(body, kind, after)
    return deadline


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings) -> None:
    """Register the ``resourceslice_remote`` controller (slices and their consumers' Tenants)."""
    timers = RenewalTimers()

    async def attempt(target: Any, provider: IdentityProvider, namespace: str, name: str) -> None:
        """Reconcile once, then wake up again at the renewal time."""
        key = f"{namespace}/{name}"
        async with timers.lock(key), operator_api(target) as api:
            deadline = await reconcile(SliceContext(api, settings, provider), namespace, name)
        if deadline is None:
            timers.cancel(key)
        else:
            wake = deadline + RENEWAL_MARGIN
            timers.schedule(key, wake, lambda: run(target, provider, namespace, name))

    async def run(target: Any, provider: IdentityProvider, namespace: str, name: str) -> None:
        await with_retries(
            logger,
            f"ResourceSlice {namespace}/{name}",
            lambda: attempt(target, provider, namespace, name),
        )

    @kopf.on.event(
        GROUP,
        VERSION,
        "resourceslices",
        labels=REPLICATED_SLICE_LABELS,
        registry=registry,
        id="resourceslice_remote",
    )
    async def remote_slice_changed(
        body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any
    ) -> None:
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""
        if type == "DELETED":
            timers.cancel(f"{namespace}/{name}")
            await _revoke(memo, dict(body))
            return
        await run(memo.kube_target, memo.identity_provider, namespace, name)

    @kopf.on.event(GROUP, VERSION, "tenants", registry=registry, id="resourceslice_remote-tenant")
    async def tenant_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        consumer = (body.get("spec") or {}).get("clusterID")
        if not consumer:
            return
        async with operator_api(memo.kube_target) as api:
            slices = await api.list_items(slices_path(), replicated_selector(consumer))
        for item in slices:
            # One attempt each, in line, so that slices are decided before the ``tenant``
            # handler (after this one) drains the consumer; failures retry in the background.
            namespace, name = item["metadata"]["namespace"], item["metadata"]["name"]
            args = (memo.kube_target, memo.identity_provider, namespace, name)
            try:
                await attempt(*args)
            except Exception as exc:
                logger.debug("ResourceSlice %s/%s: retrying (%s)", namespace, name, exc)
                timers.schedule(f"{namespace}/{name}", time.time(), partial(run, *args))

    @kopf.on.cleanup(registry=registry, id="resourceslice_remote-cleanup")
    async def stop_timers(**_: Any) -> None:
        timers.cancel_all()


async def _revoke(memo: kopf.Memo, body: JSONObject) -> None:
    """Let the identity provider remove what it created for a deleted slice (best effort)."""
    meta = body.get("metadata") or {}
    consumer = labels_of(body).get(REPLICATION_ORIGIN_LABEL)
    if not consumer:
        return
    request = CredentialRequest(
        consumer_cluster_id=consumer,
        identity_type="ResourceSlice",
        name=meta.get("name", ""),
        tenant_namespace=meta.get("namespace", ""),
        user=slice_common_name(meta.get("name", ""), consumer),
        groups=(consumer,),
    )

    async def work() -> None:
        async with operator_api(memo.kube_target) as api:
            await memo.identity_provider.revoke(api, request)
            await unbind_member(api, request)

    await with_retries(logger, f"revoking the credential of {meta.get('name')}", work)
