"""The ``tenant`` controller (provider): verify a consumer, issue its credentials, bind RBAC.

For each Tenant, unless ``authzPolicy: TolerateNoHandshake``, the consumer must prove it
holds the key it presents: ``spec.signature`` is its signature of the nonce in the
``liqo-nonce`` Secret of its tenant namespace, and ``spec.csr`` asks for ``CN=<consumer>,
O=liqo.io`` with that same key. Then the controller signs the CSR through the Kubernetes
CSR API (kept in Secret ``liqo-remote-certificate``), fills the Tenant status and binds
the consumer to the ``remote-controlplane`` (RoleBinding, tenant namespace) and
``virtual-kubelet-remote-clusterwide`` (ClusterRoleBinding) ClusterRoles. A refused
handshake issues nothing: a Warning event and the status condition
:data:`HANDSHAKE_CONDITION` (``False``, with the reason) say why.

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

from liqo_auth import crypto
from liqo_auth.kube import operator_api, secrets_path
from liqo_auth.names import (
    CERTIFICATE_KEY,
    NONCE_KEY,
    NONCE_SECRET,
    REMOTE_CERTIFICATE_SECRET,
    REMOTE_CONTROLPLANE_ROLE,
    VIRTUAL_KUBELET_CLUSTERWIDE_ROLE,
    default_tenant_namespace,
    tenant_namespace_labels,
    tenant_namespace_selector,
)
from liqo_auth.reconcile import Requeue, with_retries
from liqo_core import LiqoSettings
from liqo_core.api.authentication_v1beta1 import GROUP, VERSION, TenantSpec
from liqo_core.api.consts import K8S_APP_NAME_LABEL, REMOTE_CLUSTER_ID_LABEL, TENANT_FINALIZER
from liqo_core.identity import CredentialRequest, IdentityProvider
from liqo_core.kube import JSONObject, Kube, api_status

logger = logging.getLogger(__name__)

#: Status condition type telling whether the consumer's handshake was verified.
HANDSHAKE_CONDITION = "HandshakeVerified"
#: Label marking the bindings this controller created for a Tenant.
MANAGED_BY_TENANT_LABEL = "tenant.liqo.io/managed"
#: A stored certificate is replaced once less than this fraction of its life is left.
RENEW_FRACTION = 1 / 3

CLUSTER_ROLES_PATH = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
CLUSTER_ROLE_BINDINGS_PATH = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"


def tenants_path(namespace: str, name: str | None = None) -> str:
    """REST path of the Tenants of ``namespace`` (or of one)."""
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/tenants"
    return f"{base}/{quote(name)}" if name else base


def role_bindings_path(namespace: str, name: str | None = None) -> str:
    """REST path of the RoleBindings of ``namespace`` (or of one)."""
    base = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{quote(namespace)}/rolebindings"
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
) -> bytes | None:
    """The stored certificate, if it is for ``public_key`` and not close to expiry."""
    secret = await api.get(secrets_path(namespace, REMOTE_CERTIFICATE_SECRET))
    value = ((secret or {}).get("data") or {}).get(CERTIFICATE_KEY)
    if not value:
        return None
    pem = base64.b64decode(value)
    validity = crypto.certificate_validity(pem)
    if validity is None or not crypto.same_public_key(validity.public_key, public_key):
        return None
    lifetime = validity.not_after - validity.not_before
    if validity.not_after - time.time() < lifetime * RENEW_FRACTION:
        return None
    return pem


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
    if settings.api_server.ca:
        return settings.api_server.ca.encode()
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
    if settings.api_server.address:
        return settings.api_server.address
    host = api.api.configuration.host
    if not host:
        raise Requeue("the API server URL is unknown")
    return str(host)


async def _cluster_role(api: Kube, app_name: str) -> str:
    """The ClusterRole labelled ``app.kubernetes.io/name=<app_name>``.

    Without the right to list ClusterRoles (the chart grants only ``bind`` on the two
    roles), the chart's name ``liqo-<app_name>`` is assumed.
    """
    try:
        roles = await api.list_items(CLUSTER_ROLES_PATH, f"{K8S_APP_NAME_LABEL}={app_name}")
    except Exception as exc:
        if api_status(exc) != 403:
            raise
        return f"liqo-{app_name}"
    if not roles:
        raise Requeue(f"no ClusterRole labelled {K8S_APP_NAME_LABEL}={app_name}")
    return str(sorted(role["metadata"]["name"] for role in roles)[0])


def _binding(kind: str, name: str, role: str, subject: str, consumer: str) -> JSONObject:
    """A (Cluster)RoleBinding of ``role`` to User (RoleBinding) or Group ``consumer``."""
    rbac = "rbac.authorization.k8s.io"
    return {
        "apiVersion": f"{rbac}/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "labels": {REMOTE_CLUSTER_ID_LABEL: consumer, MANAGED_BY_TENANT_LABEL: "true"},
        },
        "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": rbac, "kind": subject, "name": consumer}],
    }


async def _apply(api: Kube, collection: str, body: JSONObject) -> None:
    name = body["metadata"]["name"]
    existing = await api.get(f"{collection}/{quote(name)}")
    if existing is None:
        if await api.create(collection, body) is not None:
            return
        existing = await api.get(f"{collection}/{quote(name)}")
    if existing is not None and (
        existing.get("roleRef") != body["roleRef"] or existing.get("subjects") != body["subjects"]
    ):
        await api.delete(f"{collection}/{quote(name)}")  # roleRef is immutable
        await api.create(collection, body)


async def bind_consumer(api: Kube, consumer: str, namespace: str | None) -> None:
    """RoleBinding (User, tenant namespace) and ClusterRoleBinding (Group) for ``consumer``."""
    if namespace is not None:
        role = await _cluster_role(api, REMOTE_CONTROLPLANE_ROLE)
        binding = _binding("RoleBinding", role, role, "User", consumer)
        binding["metadata"]["namespace"] = namespace
        await _apply(api, role_bindings_path(namespace), binding)
    role = await _cluster_role(api, VIRTUAL_KUBELET_CLUSTERWIDE_ROLE)
    binding = _binding("ClusterRoleBinding", f"{role}-{consumer}", role, "Group", consumer)
    await _apply(api, CLUSTER_ROLE_BINDINGS_PATH, binding)


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


async def cleanup(api: Kube, consumer: str, namespace: str) -> None:
    """Remove what the controller created for ``consumer``."""
    selector = f"{REMOTE_CLUSTER_ID_LABEL}={consumer},{MANAGED_BY_TENANT_LABEL}=true"
    for binding in await api.list_items(CLUSTER_ROLE_BINDINGS_PATH, selector):
        await api.delete(f"{CLUSTER_ROLE_BINDINGS_PATH}/{quote(binding['metadata']['name'])}")
    for binding in await api.list_items(role_bindings_path(namespace), selector):
        await api.delete(role_bindings_path(namespace, binding["metadata"]["name"]))
    await api.delete(secrets_path(namespace, REMOTE_CERTIFICATE_SECRET))


async def reconcile(ctx: TenantContext, namespace: str, name: str) -> None:
    """Bring one Tenant and what it grants to the desired state."""
    api = ctx.api
    body = await api.get(tenants_path(namespace, name))
    if body is None:
        return
    spec = TenantSpec.model_validate(body.get("spec") or {})
    consumer = spec.cluster_id
    if body["metadata"].get("deletionTimestamp"):
        if TENANT_FINALIZER in (body["metadata"].get("finalizers") or []):
            status_ns = (body.get("status") or {}).get("tenantNamespace") or namespace
            await cleanup(api, consumer, status_ns)
            await _set_finalizer(api, body, present=False)
            logger.info("Tenant %s/%s: credentials and bindings removed", namespace, name)
        return
    if TENANT_FINALIZER not in (body["metadata"].get("finalizers") or []):
        await _set_finalizer(api, body, present=True)
        body = await api.get(tenants_path(namespace, name))
        if body is None:
            return

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
            return
        public_key = crypto.load_public_key(_decoded(spec.public_key))
        await _set_handshake(api, body, True, "Verified", "signature and CSR match the key")
    else:
        await _set_handshake(
            api, body, True, "NoHandshakeRequired", "authzPolicy TolerateNoHandshake"
        )

    tenant_ns = await ensure_tenant_namespace(api, consumer, namespace)
    status: JSONObject = {"tenantNamespace": tenant_ns}
    if handshake and public_key is not None:
        certificate = await _stored_certificate(api, tenant_ns, public_key)
        if certificate is None:
            request = CredentialRequest(
                consumer_cluster_id=consumer,
                identity_type="ControlPlane",
                name=name,
                tenant_namespace=tenant_ns,
                user=consumer,
                groups=(),
                csr=_decoded(spec.csr),
            )
            issued = await ctx.provider.issue(api, request)
            if issued.signed_crt is None:
                raise RuntimeError(f"identity provider {ctx.provider.name} issued no certificate")
            certificate = issued.signed_crt
            await store_certificate(api, tenant_ns, consumer, certificate)
            kopf.event(
                ctx.body, type="Normal", reason="CertificateIssued",
                message=f"Control-plane certificate issued to {consumer}",
            )  # fmt: skip
        auth_params: JSONObject = {
            "ca": base64.b64encode(await cluster_ca(api, ctx.settings)).decode(),
            "signedCRT": base64.b64encode(certificate).decode(),
            "apiServer": api_server_url(api, ctx.settings),
        }
        if spec.proxy_url:
            auth_params["proxyURL"] = spec.proxy_url
        status["authParams"] = auth_params
        await bind_consumer(api, consumer, tenant_ns)
    else:
        await bind_consumer(api, consumer, None)
    await _set_status(api, body, status)


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings) -> None:
    """Register the ``tenant`` controller."""

    @kopf.on.event(GROUP, VERSION, "tenants", registry=registry, id="tenant")
    async def tenant_changed(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
        if type == "DELETED":
            return
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""

        async def work() -> None:
            async with operator_api(memo.kube_target) as api:
                context = TenantContext(api, settings, body, memo.identity_provider)
                await reconcile(context, namespace, name)

        await with_retries(logger, f"Tenant {namespace}/{name}", work)
