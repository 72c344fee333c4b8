"""The authentication module's view of one peer, for its ForeignCluster and ``liqoctl info``.

- A Tenant for the peer: the peer consumes this cluster (role Consumer);
  ``AuthTenantStatus`` is Ready once the Tenant has its namespace and, unless
  ``TolerateNoHandshake``, its credentials; a refused handshake shows its reason.
- A ControlPlane Identity or kubeconfig Secret for the peer: the peer provides to this
  cluster (role Provider); ``AuthIdentityControlPlaneStatus`` is Ready once the kubeconfig
  Secret exists, and that kubeconfig is what the API server check probes with.
- ResourceSlices for the peer (local requests or replicated ones) add what was granted or
  denied, and why.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import yaml

from liqo_auth.names import KUBECONFIG_KEY
from liqo_auth.tenant import HANDSHAKE_CONDITION
from liqo_core.api.authentication_v1beta1 import GROUP, VERSION
from liqo_core.api.consts import (
    CONDITION_AUTH_IDENTITY_CONTROL_PLANE,
    CONDITION_AUTH_TENANT,
    IDENTITY_TYPE_LABEL,
    REMOTE_CLUSTER_ID_LABEL,
    REMOTE_TENANT_NAMESPACE_ANNOTATION,
    REPLICATION_STATUS_LABEL,
    RESOURCE_SLICE_ACCEPTED,
    RESOURCE_SLICE_DENIED,
    STATUS_NOT_READY,
    STATUS_READY,
)
from liqo_core.kube import Kube
from liqo_core.peers import (
    ModulePeerStatus,
    PeerCondition,
    PeerDetail,
    PeerStatusSource,
    WatchedResource,
)

Obj = Mapping[str, Any]
API = f"/apis/{GROUP}/{VERSION}"
CONTROL_PLANE = "ControlPlane"

TENANT_READY = "TenantReady"
TENANT_NOT_READY = "TenantNotReady"
IDENTITY_READY = "IdentityReady"
IDENTITY_NOT_READY = "IdentityNotReady"


def spec_cluster_id(obj: Obj) -> str | None:
    """The peer of a Tenant or Identity: ``spec.clusterID``."""
    value = (obj.get("spec") or {}).get("clusterID")
    return str(value) if value else None


WATCHES = (
    WatchedResource(GROUP, VERSION, "tenants", labels={}, peer_of=spec_cluster_id),
    WatchedResource(GROUP, VERSION, "identities", labels={}, peer_of=spec_cluster_id),
    WatchedResource(GROUP, VERSION, "resourceslices"),
    WatchedResource(
        "",
        "v1",
        "secrets",
        labels={REMOTE_CLUSTER_ID_LABEL: None, IDENTITY_TYPE_LABEL: CONTROL_PLANE},
    ),
)


def _ref(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _condition(obj: Obj, kind: str) -> Obj | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == kind), None)


def _set_default(report: ModulePeerStatus, attribute: str, value: str | None) -> None:
    if value and getattr(report, attribute) is None:
        setattr(report, attribute, value)


def add_tenant(report: ModulePeerStatus, tenant: Obj) -> None:
    """The peer is a consumer: the Tenant's state."""
    report.in_use = report.consumer = True
    spec, status = tenant.get("spec") or {}, tenant.get("status") or {}
    namespace = status.get("tenantNamespace")
    _set_default(report, "tenant_namespace_local", namespace)
    tolerant = spec.get("authzPolicy") == "TolerateNoHandshake"
    handshake = _condition(tenant, HANDSHAKE_CONDITION)
    where = f"Tenant {_ref(tenant)}"
    if (tenant.get("metadata") or {}).get("deletionTimestamp"):
        message = "the Tenant is being deleted"
        report.conditions.append(
            PeerCondition(CONDITION_AUTH_TENANT, STATUS_NOT_READY, TENANT_NOT_READY, message)
        )
        report.details.append(PeerDetail("waiting", f"{where}: being deleted"))
        return
    if namespace and (tolerant or status.get("authParams")):
        how = "accepted without handshake" if tolerant else "handshake verified"
        issued = "" if tolerant else ", control-plane credentials issued"
        report.conditions.append(
            PeerCondition(CONDITION_AUTH_TENANT, STATUS_READY, TENANT_READY, "The Tenant is ready")
        )
        report.details.append(PeerDetail("done", f"{where}: {how}{issued}"))
    elif handshake is not None and handshake.get("status") == "False":
        reason = str(handshake.get("reason") or TENANT_NOT_READY)
        message = str(handshake.get("message") or "")
        report.conditions.append(
            PeerCondition(CONDITION_AUTH_TENANT, STATUS_NOT_READY, reason, message)
        )
        report.details.append(PeerDetail("stuck", f"{where} refused: {reason}: {message}"))
    else:
        message = "waiting for the tenant controller to issue credentials"
        report.conditions.append(
            PeerCondition(CONDITION_AUTH_TENANT, STATUS_NOT_READY, TENANT_NOT_READY, message)
        )
        report.details.append(PeerDetail("waiting", f"{where}: {message}"))
    condition = spec.get("tenantCondition") or "Active"
    if condition != "Active":
        report.details.append(
            PeerDetail("stuck", f"{where} is {condition}: no new ResourceSlice is granted")
        )


def _kubeconfig(secret: Obj | None) -> str | None:
    value = ((secret or {}).get("data") or {}).get(KUBECONFIG_KEY)
    if not value:
        return None
    try:
        return base64.b64decode(value).decode()
    except ValueError:
        return None


def _server_of(kubeconfig: str) -> str | None:
    try:
        document = yaml.safe_load(kubeconfig)
        return str(document["clusters"][0]["cluster"]["server"])
    except Exception:  # not a usable kubeconfig: the API server check says so
        return None


def add_identity(report: ModulePeerStatus, identity: Obj, secret: Obj | None) -> None:
    """The peer is a provider: the ControlPlane Identity and its kubeconfig Secret."""
    report.in_use = report.provider = True
    spec = identity.get("spec") or {}
    params = spec.get("authParams") or {}
    _set_default(
        report, "tenant_namespace_local", (identity.get("metadata") or {}).get("namespace")
    )
    _set_default(report, "tenant_namespace_remote", spec.get("namespace"))
    _set_default(report, "api_server_url", params.get("apiServer"))
    _set_default(report, "proxy_url", params.get("proxyURL"))
    kubeconfig = _kubeconfig(secret)
    where = f"Identity {_ref(identity)}"
    if kubeconfig is not None:
        _set_default(report, "kubeconfig", kubeconfig)
        report.conditions.append(
            PeerCondition(
                CONDITION_AUTH_IDENTITY_CONTROL_PLANE, STATUS_READY, IDENTITY_READY,
                "The control-plane kubeconfig is ready",
            )
        )  # fmt: skip
        report.details.append(
            PeerDetail("done", f"{where}: kubeconfig Secret {_ref(secret or {})}")
        )
    else:
        message = "waiting for the kubeconfig Secret"
        report.conditions.append(
            PeerCondition(
                CONDITION_AUTH_IDENTITY_CONTROL_PLANE, STATUS_NOT_READY, IDENTITY_NOT_READY, message
            )
        )
        report.details.append(PeerDetail("waiting", f"{where}: {message}"))


def add_kubeconfig_secret(report: ModulePeerStatus, secret: Obj) -> None:
    """The peer is a provider: a ControlPlane kubeconfig Secret given without an Identity."""
    report.in_use = report.provider = True
    meta = secret.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    _set_default(report, "tenant_namespace_local", meta.get("namespace"))
    _set_default(
        report, "tenant_namespace_remote", annotations.get(REMOTE_TENANT_NAMESPACE_ANNOTATION)
    )
    kubeconfig = _kubeconfig(secret)
    if kubeconfig is None:
        report.details.append(PeerDetail("stuck", f"Secret {_ref(secret)} has no kubeconfig key"))
        return
    _set_default(report, "kubeconfig", kubeconfig)
    _set_default(report, "api_server_url", _server_of(kubeconfig))
    report.conditions.append(
        PeerCondition(
            CONDITION_AUTH_IDENTITY_CONTROL_PLANE, STATUS_READY, IDENTITY_READY,
            "The control-plane kubeconfig is ready",
        )
    )  # fmt: skip
    report.details.append(PeerDetail("done", f"kubeconfig Secret {_ref(secret)} (no Identity)"))


def add_resource_slice(report: ModulePeerStatus, peer: str, slice_: Obj) -> None:
    """What a ResourceSlice for (or from) the peer was granted, or why it was not."""
    report.in_use = True
    labels = (slice_.get("metadata") or {}).get("labels") or {}
    replicated = labels.get(REPLICATION_STATUS_LABEL) == "true"
    where = f"ResourceSlice {_ref(slice_)}" + (f" (from {peer})" if replicated else "")
    conditions = {c.get("type"): c for c in (slice_.get("status") or {}).get("conditions") or []}
    denied = [c for c in conditions.values() if c.get("status") == RESOURCE_SLICE_DENIED]
    if denied:
        for condition in denied:
            reason = condition.get("reason") or condition.get("type")
            message = condition.get("message") or ""
            text = f"{where} denied ({condition.get('type')}): {reason}"
            report.details.append(PeerDetail("stuck", f"{text}: {message}" if message else text))
        return
    accepted = [c for c in conditions.values() if c.get("status") == RESOURCE_SLICE_ACCEPTED]
    if len(accepted) >= 2:
        resources = (slice_.get("status") or {}).get("resources") or {}
        granted = ", ".join(f"{k}={v}" for k, v in sorted(resources.items())) or "nothing"
        report.details.append(PeerDetail("done", f"{where} accepted: {granted}"))
    else:
        report.details.append(
            PeerDetail("waiting", f"{where}: waiting for the provider's decision")
        )


async def authentication_status(api: Kube, peer: str) -> ModulePeerStatus:
    """The authentication module's view of ``peer`` (see the module docstring)."""
    report = ModulePeerStatus()
    for tenant in await api.list_items(f"{API}/tenants"):
        if spec_cluster_id(tenant) == peer:
            add_tenant(report, tenant)
    selector = f"{REMOTE_CLUSTER_ID_LABEL}={peer},{IDENTITY_TYPE_LABEL}={CONTROL_PLANE}"
    secrets = {_ref(secret): secret for secret in await api.list_items("/api/v1/secrets", selector)}
    used: set[str] = set()
    for identity in await api.list_items(f"{API}/identities"):
        spec = identity.get("spec") or {}
        if spec_cluster_id(identity) != peer or spec.get("type") != CONTROL_PLANE:
            continue
        name = ((identity.get("status") or {}).get("kubeconfigSecretRef") or {}).get("name")
        key = f"{identity['metadata'].get('namespace')}/{name}" if name else ""
        secret = secrets.get(key)
        used.add(key)
        add_identity(report, identity, secret)
    for key, secret in sorted(secrets.items()):
        owners = (secret.get("metadata") or {}).get("ownerReferences") or []
        if key not in used and not any(o.get("kind") == "Identity" for o in owners):
            add_kubeconfig_secret(report, secret)
    slices = await api.list_items(f"{API}/resourceslices", f"{REMOTE_CLUSTER_ID_LABEL}={peer}")
    for slice_ in slices:
        add_resource_slice(report, peer, slice_)
    return report


SOURCE = PeerStatusSource("authentication", WATCHES, authentication_status)
