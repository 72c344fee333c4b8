"""The ``tenant`` controller (provider): verify a consumer, issue its credentials, bind RBAC.

For each Tenant, unless ``authzPolicy: TolerateNoHandshake``, the consumer must prove it
holds the key it presents: ``spec.signature`` is its signature of the nonce in the
``liqo-nonce`` Secret of its tenant namespace, and ``spec.csr`` asks for ``CN=<consumer>,
O=liqo.io`` with that same key. Then the controller has the configured identity provider
issue a credential (by default it signs the CSR through the Kubernetes CSR API; kept in
Secret ``liqo-remote-certificate``), fills the Tenant status and binds the consumer to the
``remote-controlplane`` (RoleBinding, tenant namespace) and
``virtual-kubelet-remote-clusterwide`` (ClusterRoleBinding) ClusterRoles. A refused
handshake issues nothing: a Warning event and the status condition
:data:`HANDSHAKE_CONDITION` (``False``, with the reason) say why.

The credential is re-issued (same CSR: the consumer's key does not change) once it has
passed 2/3 of its lifetime: each reconciliation computes that moment from the stored
credential and the controller wakes itself up then (event ``CertificateRenewed``).

``spec.tenantCondition``: ``Drained`` removes the consumer's ``remote-controlplane``
RoleBinding and deletes its replicated ResourceSlices and NamespaceMaps in the tenant
namespace (event ``TenantDrained``); ``Active`` and ``Cordoned`` keep the bindings in place
and restore them after a drain (event ``BindingsRestored``). Credentials are renewed in
every condition, so an Identity forged after a drain still works.

Deleting the Tenant removes the bindings and the certificate Secret, then the finalizer
``tenant.liqo.io/finalizer``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import kopf

from liqo_auth import crypto, tokens
from liqo_auth.bindings import bind_consumer, managed_selector, role_bindings_path, unbind_all
from liqo_auth.kube import operator_api, secrets_path
from liqo_auth.names import (
    CERTIFICATE_KEY,
    NONCE_KEY,
    NONCE_SECRET,
    REMOTE_CERTIFICATE_SECRET,
    default_tenant_namespace,
    tenant_namespace_labels,
    tenant_namespace_selector,
)
from liqo_auth.reconcile import Requeue, with_retries
from liqo_auth.renew import MIN_RENEW_DELAY, RenewalTimers, renewal_time
from liqo_auth.settings import auth_settings
from liqo_core import LiqoSettings
from liqo_core.api.authentication_v1beta1 import GROUP, VERSION, ResourceSlice, TenantSpec
from liqo_core.api.consts import (
    REMOTE_CLUSTER_ID_LABEL,
    REPLICATION_ORIGIN_LABEL,
    REPLICATION_STATUS_LABEL,
    TENANT_FINALIZER,
)
from liqo_core.api.offloading_namespace import NamespaceMap
from liqo_core.api.resource import CRDInfo
from liqo_core.identity import CredentialRequest, IdentityProvider
from liqo_core.kube import JSONObject, Kube, KubeError

logger = logging.getLogger(__name__)

#: Status condition type telling whether the consumer's handshake was verified.
HANDSHAKE_CONDITION = "HandshakeVerified"
#: A Tenant whose reconciliation kept failing is tried again after this many seconds.
RETRY_LATER = 30.0
#: Wake-ups happen this long after the renewal time, so the credential is surely due.
WAKE_MARGIN = 0.5


def tenants_path(namespace: str, name: str | None = None) -> str:
    """REST path of the Tenants of ``namespace`` (or of one)."""
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/tenants"
    return f"{base}/{quote(name)}" if name else base


class HandshakeRefused(Exception):
    """The consumer's proof of identity does not hold."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


def _decoded(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def verify_handshake(spec: TenantSpec, nonce: bytes | None) -> None:
    """Check the consumer's signature of ``nonce`` and its CSR; raise :class:`HandshakeRefused`."""
    if nonce is None:
        raise HandshakeRefused(
            "NonceNotFound", f"no {NONCE_SECRET} Secret with a nonce for {spec.cluster_id}"
        )
    try:
        public_key = crypto.load_public_key(_decoded(spec.public_key))
    except crypto.CryptoError as err:
        raise HandshakeRefused("InvalidPublicKey", str(err)) from None
    if not crypto.verify(public_key, nonce, _decoded(spec.signature)):
        raise HandshakeRefused(
            "SignatureVerificationFailed",
            "the signature is not the nonce signed with the tenant's public key",
        )
    problem = crypto.check_csr(
        _decoded(spec.csr), spec.cluster_id, crypto.CONTROL_PLANE_ORGANIZATION, public_key
    )
    if problem is not None:
        raise HandshakeRefused("CSRVerificationFailed", problem)


@dataclass
class TenantContext:
    """What one reconciliation works with."""

    api: Kube
    settings: LiqoSettings
    body: kopf.Body
    provider: IdentityProvider


async def tenant_namespace_for(api: Kube, consumer: str, preferred: str) -> str | None:
    """The consumer's tenant namespace: ``preferred`` if labelled for it, else any labelled."""
    namespaces = await api.list_items("/api/v1/namespaces", tenant_namespace_selector(consumer))
    names = sorted(ns["metadata"]["name"] for ns in namespaces)
    if preferred in names:
        return preferred
    return names[0] if names else None


async def ensure_tenant_namespace(api: Kube, consumer: str, preferred: str) -> str:
    """Find or create the consumer's tenant namespace."""
    found = await tenant_namespace_for(api, consumer, preferred)
    if found is not None:
        return found
    name = default_tenant_namespace(consumer)
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": tenant_namespace_labels(consumer)},
    }
    if await api.create("/api/v1/namespaces", body) is None:
        existing = await api.get(f"/api/v1/namespaces/{name}")
        labels = dict(((existing or {}).get("metadata") or {}).get("labels") or {})
        labels.update(tenant_namespace_labels(consumer))
        await api.merge_patch(f"/api/v1/namespaces/{name}", {"metadata": {"labels": labels}})
    return name


async def read_nonce(api: Kube, namespace: str | None) -> bytes | None:
    """The nonce (as the consumer signed it) in ``namespace``'s ``liqo-nonce`` Secret."""
    if namespace is None:
        return None
    secret = await api.get(secrets_path(namespace, NONCE_SECRET))
    value = ((secret or {}).get("data") or {}).get(NONCE_KEY)
    return base64.b64decode(value) if value else None


async def _stored_certificate(
    api: Kube, namespace: str, public_key: crypto.PublicKey
) -> tuple[bytes, crypto.CertificateValidity] | None:
    """The stored certificate and its validity, if it is for ``public_key``."""
    secret = await api.get(secrets_path(namespace, REMOTE_CERTIFICATE_SECRET))
    value = ((secret or {}).get("data") or {}).get(CERTIFICATE_KEY)
    if not value:
        return None
    pem = base64.b64decode(value)
    validity = crypto.certificate_validity(pem)
    if validity is None or not crypto.same_public_key(validity.public_key, public_key):
        return None
    return pem, validity


async def store_certificate(api: Kube, namespace: str, consumer: str, certificate: bytes) -> None:
    """Write the issued certificate into ``liqo-remote-certificate``."""
    data = {CERTIFICATE_KEY: base64.b64encode(certificate).decode()}
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": REMOTE_CERTIFICATE_SECRET,
            "namespace": namespace,
            "labels": {REMOTE_CLUSTER_ID_LABEL: consumer},
        },
        "type": "Opaque",
        "data": data,
    }
    if await api.create(secrets_path(namespace), body) is None:
        await api.merge_patch(secrets_path(namespace, REMOTE_CERTIFICATE_SECRET), {"data": data})


async def cluster_ca(api: Kube, settings: LiqoSettings) -> bytes:
    """The CA consumers trust this cluster's API server with: the settings' ``apiServer.ca``,
    else the CA the controller-manager trusts, else ``kube-root-ca.crt``."""
    configured = auth_settings(settings).api_server.ca
    if configured:
        return configured.encode()
    liqo_namespace = settings.namespace
    ca_path = api.api.configuration.ssl_ca_cert
    if ca_path:
        return await asyncio.to_thread(Path(str(ca_path)).read_bytes)
    config_map = await api.get(f"/api/v1/namespaces/{liqo_namespace}/configmaps/kube-root-ca.crt")
    ca = ((config_map or {}).get("data") or {}).get("ca.crt")
    if not ca:
        raise Requeue("no CA: neither the client configuration nor kube-root-ca.crt has one")
    return str(ca).encode()


def api_server_url(api: Kube, settings: LiqoSettings) -> str:
    """The API server URL consumers use: the settings' override, else this client's URL."""
    address = auth_settings(settings).api_server.address
    if address:
        return address
    host = api.api.configuration.host
    if not host:
        raise Requeue("the API server URL is unknown")
    return str(host)


def control_plane_request(
    consumer: str, name: str, tenant_namespace: str, csr: bytes | None = None
) -> CredentialRequest:
    """The control-plane credential of Tenant ``name`` (CN ``<consumer>``, no group)."""
    return CredentialRequest(
        consumer_cluster_id=consumer,
        identity_type="ControlPlane",
        name=name,
        tenant_namespace=tenant_namespace,
        user=consumer,
        groups=(),
        csr=csr or None,
    )


async def _set_finalizer(api: Kube, body: JSONObject, present: bool) -> None:
    meta = body["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    if (TENANT_FINALIZER in finalizers) == present:
        return
    if present:
        finalizers.append(TENANT_FINALIZER)
    else:
        finalizers = [f for f in finalizers if f != TENANT_FINALIZER]
    patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}}
    await api.merge_patch(tenants_path(meta["namespace"], meta["name"]), patch)


def _handshake_condition(body: JSONObject) -> JSONObject | None:
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == HANDSHAKE_CONDITION), None)


async def _set_handshake(
    api: Kube, body: JSONObject, verified: bool, reason: str, message: str
) -> bool:
    """Record the handshake outcome; ``False`` when it was already recorded as such."""
    current = _handshake_condition(body)
    status = "True" if verified else "False"
    if current is not None and (current.get("status"), current.get("reason")) == (status, reason):
        return False
    condition = {
        "type": HANDSHAKE_CONDITION,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": body["metadata"].get("generation"),
        "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    meta = body["metadata"]
    path = tenants_path(meta["namespace"], meta["name"]) + "/status"
    await api.merge_patch(path, {"status": {"conditions": [condition]}})
    return True


async def _set_status(api: Kube, body: JSONObject, status: JSONObject) -> None:
    current = body.get("status") or {}
    if all(current.get(key) == value for key, value in status.items()):
        return
    meta = body["metadata"]
    path = tenants_path(meta["namespace"], meta["name"]) + "/status"
    await api.merge_patch(path, {"status": status})


async def _control_plane_credential(
    ctx: TenantContext, spec: TenantSpec, request: CredentialRequest, public_key: crypto.PublicKey
) -> tuple[bytes | None, str | None, float]:
    """The consumer's control-plane certificate (or token) and when to renew it.

    The stored one is kept until it has passed 2/3 of its lifetime
    (:func:`~liqo_auth.renew.renewal_time`); then, or when missing or for another key,
    the Tenant's CSR is signed again (the consumer's key is unchanged, so its CSR stays
    valid) and a ``CertificateRenewed`` (or ``CertificateIssued``) event recorded.
    """
    api, tenant_ns = ctx.api, request.tenant_namespace
    consumer = request.consumer_cluster_id
    lifetime = auth_settings(ctx.settings).credential_lifetime
    key_pem = _decoded(spec.public_key)
    now = time.time()
    stored = await _stored_certificate(api, tenant_ns, public_key)
    found = None
    if stored is not None:
        renew_at = renewal_time(stored[1].not_before, stored[1].not_after, lifetime)
        if now < renew_at:
            return stored[0], None, renew_at
    else:
        found = await tokens.stored_token(api, tenant_ns, key_pem, lifetime)
        if found is not None and now < found.renew_at:
            return None, found.token, found.renew_at
    issued = await ctx.provider.issue(api, request)
    certificate: bytes | None = issued.signed_crt
    token = None
    if certificate is not None:
        await store_certificate(api, tenant_ns, consumer, certificate)
    else:
        token = await tokens.store_token(api, tenant_ns, consumer, issued, key_pem)
    kind = "Certificate" if certificate is not None else "Token"
    renewed = stored is not None or found is not None
    until = issued.not_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kopf.event(
        ctx.body, type="Normal", reason=f"{kind}{'Renewed' if renewed else 'Issued'}",
        message=f"Control-plane {kind.lower()} {'renewed for' if renewed else 'issued to'} "
        f"{consumer}, valid until {until}",
    )  # fmt: skip
    logger.info("Tenant %s: control-plane %s issued, valid until %s", consumer, kind.lower(), until)
    renew_at = renewal_time(issued.not_before.timestamp(), issued.not_after.timestamp(), lifetime)
    return certificate, token, max(renew_at, time.time() + MIN_RENEW_DELAY)


def _collection(crd: CRDInfo, namespace: str) -> str:
    return f"/apis/{crd.group}/{crd.version}/namespaces/{quote(namespace)}/{crd.plural}"


def _replicated_selector(consumer: str) -> str:
    return f"{REPLICATION_STATUS_LABEL}=true,{REPLICATION_ORIGIN_LABEL}={consumer}"


async def drain(api: Kube, consumer: str, tenant_ns: str) -> list[str]:
    """Unbind ``remote-controlplane`` in the tenant namespace and delete the consumer's
    replicated ResourceSlices and NamespaceMaps there; return what was removed."""
    removed: list[str] = []
    selector = managed_selector(consumer)
    for binding in await api.list_items(role_bindings_path(tenant_ns), selector):
        if await api.delete(role_bindings_path(tenant_ns, binding["metadata"]["name"])):
            removed.append(f"RoleBinding {binding['metadata']['name']}")
    for kind, collection in (
        ("ResourceSlice", _collection(ResourceSlice.crd, tenant_ns)),
        ("NamespaceMap", _collection(NamespaceMap.crd, tenant_ns)),
    ):
        try:
            items = await api.list_items(collection, _replicated_selector(consumer))
        except KubeError as exc:
            if exc.status != 404:  # 404: the kind is not installed
                raise
            continue
        for item in items:
            if item["metadata"].get("deletionTimestamp"):
                continue
            if await api.delete(f"{collection}/{quote(item['metadata']['name'])}"):
                removed.append(f"{kind} {item['metadata']['name']}")
    return removed


async def _apply_tenant_condition(
    ctx: TenantContext, spec: TenantSpec, request: CredentialRequest, *, control_plane: bool
) -> None:
    """Bindings by ``spec.tenantCondition``: Drained removes them (and the consumer's
    replicated slices and NamespaceMaps), Active and Cordoned keep them in place."""
    api, tenant_ns, consumer = ctx.api, request.tenant_namespace, request.consumer_cluster_id
    if spec.tenant_condition == "Drained":
        removed = await drain(api, consumer, tenant_ns)
        if removed:
            message = f"Tenant drained: removed {', '.join(removed)}"
            logger.info("Tenant %s: %s", consumer, message)
            kopf.event(ctx.body, type="Normal", reason="TenantDrained", message=message)
        return
    selector = managed_selector(consumer)
    had_binding = bool(await api.list_items(role_bindings_path(tenant_ns), selector))
    had_credential = await api.get(secrets_path(tenant_ns, REMOTE_CERTIFICATE_SECRET)) is not None
    await bind_consumer(api, ctx.provider, request, control_plane=control_plane)
    if control_plane and had_credential and not had_binding:
        message = f"Tenant {spec.tenant_condition}: control-plane bindings restored"
        logger.info("Tenant %s: %s", consumer, message)
        kopf.event(ctx.body, type="Normal", reason="BindingsRestored", message=message)


async def cleanup(api: Kube, consumer: str, namespace: str) -> None:
    """Remove what the controller created for ``consumer``."""
    await unbind_all(api, consumer, namespace)
    await api.delete(secrets_path(namespace, REMOTE_CERTIFICATE_SECRET))


async def reconcile(ctx: TenantContext, namespace: str, name: str) -> float | None:
    """Bring one Tenant and what it grants to the desired state.

    Returns when its control-plane credential is to be renewed (POSIX time), if any.
    """
    api = ctx.api
    body = await api.get(tenants_path(namespace, name))
    if body is None:
        return None
    spec = TenantSpec.model_validate(body.get("spec") or {})
    consumer = spec.cluster_id
    if body["metadata"].get("deletionTimestamp"):
        if TENANT_FINALIZER in (body["metadata"].get("finalizers") or []):
            status_ns = (body.get("status") or {}).get("tenantNamespace") or namespace
            await cleanup(api, consumer, status_ns)
            await ctx.provider.revoke(api, control_plane_request(consumer, name, status_ns))
            await _set_finalizer(api, body, present=False)
            logger.info("Tenant %s/%s: credentials and bindings removed", namespace, name)
        return None
    if TENANT_FINALIZER not in (body["metadata"].get("finalizers") or []):
        await _set_finalizer(api, body, present=True)
        body = await api.get(tenants_path(namespace, name))
        if body is None:
            return None

    handshake = spec.authz_policy != "TolerateNoHandshake"
    public_key: crypto.PublicKey | None = None
    if handshake:
        nonce = await read_nonce(api, await tenant_namespace_for(api, consumer, namespace))
        try:
            verify_handshake(spec, nonce)
        except HandshakeRefused as refused:
            if await _set_handshake(api, body, False, refused.reason, refused.message):
                logger.warning("Tenant %s/%s refused: %s", namespace, name, refused.reason)
                kopf.event(ctx.body, type="Warning", reason=refused.reason, message=refused.message)
            return None
        public_key = crypto.load_public_key(_decoded(spec.public_key))
        await _set_handshake(api, body, True, "Verified", "signature and CSR match the key")
    else:
        await _set_handshake(
            api, body, True, "NoHandshakeRequired", "authzPolicy TolerateNoHandshake"
        )

    tenant_ns = await ensure_tenant_namespace(api, consumer, namespace)
    status: JSONObject = {"tenantNamespace": tenant_ns}
    request = control_plane_request(consumer, name, tenant_ns, _decoded(spec.csr))
    renew_at: float | None = None
    if handshake and public_key is not None:
        certificate, token, renew_at = await _control_plane_credential(
            ctx, spec, request, public_key
        )
        credential: JSONObject = (
            {"signedCRT": base64.b64encode(certificate).decode()}
            if certificate is not None
            else {"token": token}
        )
        stale = "token" if certificate is not None else "signedCRT"
        if ((body.get("status") or {}).get("authParams") or {}).get(stale):
            credential[stale] = None  # the provider changed: drop the other kind
        auth_params: JSONObject = {
            "ca": base64.b64encode(await cluster_ca(api, ctx.settings)).decode(),
            **credential,
            "apiServer": api_server_url(api, ctx.settings),
        }
        if spec.proxy_url:
            auth_params["proxyURL"] = spec.proxy_url
        status["authParams"] = auth_params
    await _apply_tenant_condition(ctx, spec, request, control_plane=handshake)
    await _set_status(api, body, status)
    return renew_at


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings) -> None:
    """Register the ``tenant`` controller.

    Besides watch events, each Tenant is reconciled again when its credential is due for
    renewal: the time comes from the stored credential at every reconciliation (so from
    the initial listing after a restart), and one wake-up per Tenant is kept.
    """
    timers = RenewalTimers()

    async def reconcile_and_schedule(body: kopf.Body, memo: kopf.Memo) -> None:
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""
        key = f"{namespace}/{name}"
        due: list[float | None] = [None]

        async def work() -> None:
            async with operator_api(memo.kube_target) as api:
                context = TenantContext(api, settings, body, memo.identity_provider)
                due[0] = await reconcile(context, namespace, name)

        async with timers.lock(key):
            done = await with_retries(logger, f"Tenant {namespace}/{name}", work)
            at = due[0] if done else time.time() + RETRY_LATER
            if at is None:
                timers.unschedule(key)
                return
            timers.schedule(key, at + WAKE_MARGIN, lambda: reconcile_and_schedule(body, memo))
            logger.debug("Tenant %s: next reconciliation at %s", key, at)

    @kopf.on.event(GROUP, VERSION, "tenants", registry=registry, id="tenant")
    async def tenant_changed(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
        if type == "DELETED":
            timers.cancel(f"{body.metadata.namespace}/{body.metadata.name}")
            return
        await reconcile_and_schedule(body, memo)

    @kopf.on.cleanup(registry=registry, id="tenant-renewal-cleanup")
    async def stop_timers(**_: Any) -> None:
        timers.cancel_all()
