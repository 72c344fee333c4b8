"""The declarative peering flow driven in-process, for timing-sensitive tests and benchmarks.

The same documents as :mod:`peering_support` (which goes through ``liqoctl`` and kubectl),
forged with the library ``liqoctl`` uses (:mod:`liqo_auth.forge`) and created through the
API client, so no command start-up sits between a step and the controllers' reaction:
the provider's nonce and the consumer's Tenant, the ControlPlane Identity, and a
ResourceSlice asking the provider for capacity with the default class.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from liqo_auth import forge
from liqo_sides import Side
from peering_support import AUTH_GROUP, AUTH_VERSION, get_object, tenant_namespace

from liqo_core.api import consts

#: What the slices of these flows ask for.
SLICE_RESOURCES = {"cpu": "2", "memory": "4Gi", "pods": "20"}


def forge_tenant(provider: Side, consumer: Side, timeout: float) -> dict[str, Any]:
    """P issues a nonce for C, C signs it: the Tenant C sends P (not applied yet)."""
    nonce = forge.create_nonce(provider.api, consumer.cluster_id, timeout=timeout)
    return forge.tenant_for_provider(
        consumer.api, consumer.namespace, provider.cluster_id, nonce=nonce, timeout=timeout
    )


def forge_identity(provider: Side, consumer: Side) -> dict[str, Any]:
    """P forges C's ControlPlane Identity from the Tenant's credentials (not applied yet)."""
    return forge.identity_for_consumer(provider.api, provider.namespace, consumer.cluster_id)


def create(side: Side, plural: str, obj: dict[str, Any]) -> None:
    """Create an ``authentication.liqo.io`` object in its namespace."""
    namespace = obj["metadata"]["namespace"]
    side.custom.create_namespaced_custom_object(AUTH_GROUP, AUTH_VERSION, namespace, plural, obj)


def credentials(provider: Side, consumer: Side) -> dict[str, Any] | None:
    """The ``authParams`` of C's Tenant on P, once issued."""
    tenant = provider.tenant(tenant_namespace(consumer), consumer.cluster_id) or {}
    params: dict[str, Any] | None = (tenant.get("status") or {}).get("authParams")
    return params


def resource_slice(provider: Side, consumer: Side, name: str) -> dict[str, Any]:
    """A ResourceSlice C asks P for (default class, :data:`SLICE_RESOURCES`)."""
    provider_id = provider.cluster_id
    return {
        "apiVersion": f"{AUTH_GROUP}/{AUTH_VERSION}",
        "kind": "ResourceSlice",
        "metadata": {
            "name": name,
            "namespace": tenant_namespace(provider),
            "labels": {
                consts.REPLICATION_REQUESTED_LABEL: "true",
                consts.REPLICATION_DESTINATION_LABEL: provider_id,
                consts.REMOTE_CLUSTER_ID_LABEL: provider_id,
            },
        },
        "spec": {"class": "default", "resources": dict(SLICE_RESOURCES)},
    }


def slice_statuses(obj: dict[str, Any] | None) -> dict[str, str]:
    """``{condition type: status}`` of a ResourceSlice."""
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return {c["type"]: c["status"] for c in conditions}


def accepted(obj: dict[str, Any] | None) -> bool:
    """Whether both the Authentication and the Resources conditions are Accepted."""
    return slice_statuses(obj) == {"Authentication": "Accepted", "Resources": "Accepted"}


def slice_kubeconfig_secret(name: str) -> str:
    """Name of the kubeconfig Secret of the slice ``name``'s Identity."""
    return f"kubeconfig-resourceslice-{name}"


def slice_ready(provider: Side, consumer: Side, name: str) -> bool:
    """C's slice is accepted and its kubeconfig Secret written."""
    namespace = tenant_namespace(provider)
    found = get_object(consumer, "resourceslices", namespace, name)
    if not accepted(found):
        return False
    try:
        consumer.core.read_namespaced_secret(slice_kubeconfig_secret(name), namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True
