"""Tenant conditions end to end: Drained revokes a consumer, Active and Cordoned restore it.

``spec.tenantCondition: Drained`` makes the provider's Tenant controller remove the
consumer's ``remote-controlplane`` RoleBinding and delete the consumer's replicated
ResourceSlices and NamespaceMaps; the consumer's kubeconfig then gets 403. Back to Active
(or Cordoned, which changes no RBAC) the binding returns and the consumer's replicator
copies its objects again. Changes the controller-manager is stopped or killed right after
converge when it starts again (while it is down, its admission webhook refuses changes of
Tenants, as upstream's does with failure policy Fail).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from e2e_support import wait_for
from kubernetes import client
from liqo_sides import Side, running_sides
from peering_support import Handshake, control_plane_secret, declarative_handshake
from replication_support import (
    NAMESPACE_MAPS,
    SLICES,
    create_replicated,
    list_as,
    replicated_names,
)

from liqo_core.testing.clusters import ClusterPool

pytestmark = pytest.mark.e2e

#: Waits that span a restart or the consumer replicator's back-off.
LONG = 120.0


@dataclass
class Peered:
    provider: Side
    consumer: Side
    handshake: Handshake
    suffix: str


@pytest.fixture(scope="module")
def peered(
    kube_cluster_pool: ClusterPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Peered]:
    clusters = kube_cluster_pool.get(2)
    tmp = tmp_path_factory.mktemp("tenant-state")
    # Offloading too: NamespaceMaps (its kind) are replicated only when it is enabled.
    settings = {"modules": ["authentication", "offloading"]}
    with running_sides(clusters, ["provider", "consumer"], tmp, settings) as (
        suffix,
        (provider, consumer),
    ):
        yield Peered(provider, consumer, declarative_handshake(provider, consumer), suffix)


def _set_condition(peered: Peered, condition: str) -> None:
    p, c = peered.provider, peered.consumer
    patch = {"spec": {"tenantCondition": condition}}
    p.kubectl(
        "patch", "tenant", c.cluster_id, "-n", peered.handshake.provider_namespace,
        "--type=merge", "-p", json.dumps(patch),
    )  # fmt: skip


def _role_bindings(peered: Peered) -> list[str]:
    bindings = client.RbacAuthorizationV1Api(peered.provider.api)
    found = bindings.list_namespaced_role_binding(
        peered.handshake.provider_namespace,
        label_selector=f"liqo.io/remote-cluster-id={peered.consumer.cluster_id}",
    ).items
    return [b.metadata.name for b in found]


def _cluster_role_bindings(peered: Peered) -> list[str]:
    bindings = client.RbacAuthorizationV1Api(peered.provider.api)
    found = bindings.list_cluster_role_binding(
        label_selector=f"liqo.io/remote-cluster-id={peered.consumer.cluster_id}"
    ).items
    return [b.metadata.name for b in found]


def _as_consumer(peered: Peered) -> int:
    c, h = peered.consumer, peered.handshake
    kubeconfig = (c.secret_data(h.consumer_namespace, control_plane_secret(peered.provider)) or {})[
        "kubeconfig"
    ]
    return list_as(kubeconfig, h.provider_namespace)


def _reasons(peered: Peered) -> list[str]:
    p, c = peered.provider, peered.consumer
    return [e.reason for e in p.events(peered.handshake.provider_namespace, c.cluster_id)]


def _copies(peered: Peered) -> tuple[list[str], list[str]]:
    p, c = peered.provider, peered.consumer
    return replicated_names(p, c, SLICES), replicated_names(p, c, NAMESPACE_MAPS)


def _drained(peered: Peered) -> None:
    wait_for("the RoleBinding removed", lambda: not _role_bindings(peered), timeout=LONG)
    wait_for("the replicated copies deleted", lambda: _copies(peered) == ([], []), timeout=LONG)
    wait_for("the consumer refused", lambda: _as_consumer(peered) == 403)
    # Only the tenant-namespace binding goes; the cluster-wide one stays.
    assert _cluster_role_bindings(peered)


def _active(peered: Peered, slices: list[str], maps: list[str]) -> None:
    wait_for("the RoleBinding restored", lambda: _role_bindings(peered), timeout=LONG)
    wait_for("the consumer allowed", lambda: _as_consumer(peered) == 200)
    wait_for(
        "the consumer's objects replicated again",
        lambda: _copies(peered) == (slices, maps),
        timeout=LONG,
    )


def test_drained_tenants_lose_their_bindings_and_replicated_objects(peered: Peered) -> None:
    p, c, s = peered.provider, peered.consumer, peered.suffix
    slices, maps = [f"slice-{s}"], [f"map-{s}"]
    create_replicated(c, p, SLICES, slices[0], {})
    create_replicated(c, p, NAMESPACE_MAPS, maps[0], {})
    wait_for("the copies on the provider", lambda: _copies(peered) == (slices, maps))
    [binding] = _role_bindings(peered)
    assert _as_consumer(peered) == 200

    _set_condition(peered, "Drained")
    _drained(peered)
    wait_for("a TenantDrained event", lambda: "TenantDrained" in _reasons(peered))
    [event] = [
        e
        for e in p.events(peered.handshake.provider_namespace, c.cluster_id)
        if e.reason == "TenantDrained"
    ]
    assert binding in event.message and slices[0] in event.message and maps[0] in event.message

    # Active again, the controller-manager stopped at once: converges once it is back.
    # (Tenants cannot change while it is down: its admission webhook fails closed.)
    _set_condition(peered, "Active")
    p.stop()
    p.start()
    _active(peered, slices, maps)
    assert "BindingsRestored" in _reasons(peered)

    # Drained, then killed mid-way: converges after the restart too.
    assert p.process is not None
    _set_condition(peered, "Drained")
    p.process.kill()
    p.process.wait(10)
    p.start()
    _drained(peered)

    # Cordoned changes no RBAC: the consumer keeps (here: gets back) its control plane.
    _set_condition(peered, "Cordoned")
    _active(peered, slices, maps)
    # Credentials are untouched by all of this.
    tenant = p.tenant(peered.handshake.provider_namespace, c.cluster_id) or {}
    assert tenant["status"]["authParams"]["signedCRT"]
