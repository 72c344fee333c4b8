"""Peering two running sides declaratively, as administrators would, for end-to-end tests.

:func:`declarative_handshake` plays the documented steps with ``liqoctl`` and kubectl:
the provider issues a nonce, the consumer signs it and forges its Tenant, the provider
applies it and forges the consumer's ControlPlane Identity, the consumer applies that and
gets its kubeconfig Secret (which also starts its CRD replicator towards the provider).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from e2e_support import wait_for
from kubernetes import client
from liqo_sides import Side

AUTH_GROUP, AUTH_VERSION = "authentication.liqo.io", "v1beta1"


def tenant_namespace(peer: Side) -> str:
    """The default tenant namespace for ``peer`` (on the other cluster)."""
    return f"liqo-tenant-{peer.cluster_id}"


def get_object(side: Side, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
    """An ``authentication.liqo.io`` object (``None`` if absent)."""
    return get_custom(side, f"{AUTH_GROUP}/{AUTH_VERSION}", plural, namespace, name)


def get_custom(
    side: Side, api_version: str, plural: str, namespace: str, name: str
) -> dict[str, Any] | None:
    """A namespaced custom object (``None`` if absent)."""
    group, version = api_version.split("/")
    try:
        obj: Any = side.custom.get_namespaced_custom_object(group, version, namespace, plural, name)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return dict(obj)


def create_nonce(provider: Side, consumer: Side) -> str:
    """P: a nonce for C, in C's tenant namespace on P."""
    return provider.liqoctl(
        "create", "nonce", "--remote-cluster-id", consumer.cluster_id
    ).stdout.strip()


def generate_tenant(provider: Side, consumer: Side, nonce: str) -> str:
    """C: sign P's nonce and forge the Tenant (YAML) for P."""
    return consumer.liqoctl(
        "generate", "tenant", "--remote-cluster-id", provider.cluster_id, "--nonce", nonce
    ).stdout


def tenant_credentials(provider: Side, consumer: Side) -> dict[str, Any]:
    """P: wait until C's Tenant has credentials in its status; return it."""
    namespace = tenant_namespace(consumer)
    found: dict[str, Any] = wait_for(
        f"the credentials of Tenant {consumer.cluster_id}",
        lambda: (
            (t := provider.tenant(namespace, consumer.cluster_id))
            and (t.get("status") or {}).get("authParams")
            and t
        ),
    )
    return found


def generate_identity(provider: Side, consumer: Side) -> dict[str, Any]:
    """P: forge C's ControlPlane Identity."""
    text = provider.liqoctl(
        "generate", "identity", "--remote-cluster-id", consumer.cluster_id, "-o", "json"
    ).stdout
    identity: dict[str, Any] = json.loads(text)
    return identity


def control_plane_secret(provider: Side) -> str:
    """Name of the consumer's ControlPlane kubeconfig Secret for ``provider``."""
    return f"kubeconfig-controlplane-{provider.cluster_id}"


@dataclass
class Handshake:
    """What a completed declarative handshake left in place."""

    tenant: dict[str, Any]
    identity: dict[str, Any]
    #: C's tenant namespace on P, and P's on C.
    provider_namespace: str
    consumer_namespace: str


def declarative_handshake(provider: Side, consumer: Side) -> Handshake:
    """Peer ``consumer`` with ``provider`` (nonce → Tenant → Identity → kubeconfig Secret)."""
    nonce = create_nonce(provider, consumer)
    generated = generate_tenant(provider, consumer, nonce)
    provider.kubectl("apply", "-f", "-", input=generated)
    tenant_credentials(provider, consumer)
    identity = generate_identity(provider, consumer)
    consumer.kubectl("apply", "-f", "-", input=json.dumps(identity))
    consumer_ns = tenant_namespace(provider)
    wait_for(
        "the ControlPlane kubeconfig Secret",
        lambda: consumer.secret_data(consumer_ns, control_plane_secret(provider)),
    )
    return Handshake(yaml.safe_load(generated), identity, tenant_namespace(consumer), consumer_ns)
