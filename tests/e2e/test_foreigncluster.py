"""ForeignClusters derived from the peering objects, and ``liqoctl info``, end to end.

Two clusters run ``liqo controller-manager``; the declarative handshake (peering_support)
peers them. Each side's always-on ``core`` operator creates a ForeignCluster per peer and
derives its role, module conditions and API server status; ``liqoctl info`` reads them.
Everything is observed through the Kubernetes API and the CLI, so it holds on real clusters.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_support import free_port, wait_for
from kubernetes import client
from liqo_auth import crypto, forge
from liqo_sides import (
    Side,
    chart_objects,
    cleanup_cluster,
    controller_manager_rules,
    install_prerequisites,
    make_side,
    running_sides,
)
from peering_support import declarative_handshake, tenant_namespace

from liqo_core.testing.clusters import ClusterPool

pytestmark = pytest.mark.e2e

FC = ("core.liqo.io", "v1beta1", "foreignclusters")
#: The API server check runs every 15 s; allow two periods and some slack.
CHECK_WAIT = 45.0


@dataclass
class Pair:
    provider: Side
    consumer: Side
    suffix: str


@pytest.fixture(scope="module")
def pair(
    kube_cluster_pool: ClusterPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    clusters = kube_cluster_pool.get(2)
    tmp = tmp_path_factory.mktemp("fc")
    with running_sides(clusters, ["provider", "consumer"], tmp) as (suffix, (provider, consumer)):
        yield Pair(provider, consumer, suffix)


def foreign_cluster(side: Side, peer: str) -> dict[str, Any] | None:
    try:
        obj: Any = side.custom.get_cluster_custom_object(*FC, peer)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return dict(obj)


def condition(conditions: list[dict[str, Any]] | None, kind: str) -> dict[str, Any] | None:
    return next((c for c in conditions or [] if c["type"] == kind), None)


def auth_condition(fc: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    auth = (((fc or {}).get("status") or {}).get("modules") or {}).get("authentication") or {}
    return condition(auth.get("conditions"), kind)


def api_server(fc: dict[str, Any] | None) -> dict[str, Any] | None:
    return condition(((fc or {}).get("status") or {}).get("conditions"), "APIServerStatus")


def wait_fc(side: Side, peer: str, what: str, check: Any, timeout: float = 30.0) -> dict[str, Any]:
    """Wait until ``check(fc)`` holds for ``side``'s ForeignCluster of ``peer``."""
    found: dict[str, Any] = wait_for(
        f"{side.cluster_id}: ForeignCluster {peer} {what}",
        lambda: (fc := foreign_cluster(side, peer)) is not None and check(fc) and fc,
        timeout,
    )
    return found


def role_is(role: str) -> Any:
    return lambda fc: (fc.get("status") or {}).get("role") == role


def info_peer(side: Side, peer: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(side.liqoctl("info", "peer", peer, "-o", "json").stdout)
    return data


def test_the_core_operator_runs_with_no_module_enabled(
    kube_cluster_pool: ClusterPool, tmp_path: Path
) -> None:
    [cluster] = kube_cluster_pool.get(1)
    rules = controller_manager_rules(chart_objects())
    created = install_prerequisites(cluster, [])
    suffix = secrets.token_hex(3)
    side = make_side(
        cluster, f"bare-{suffix}", f"liqo-bare-{suffix}", rules, tmp_path,
        extra_settings={"modules": []},
    )  # fmt: skip
    declared = f"declared-{suffix}"
    try:
        # A ForeignCluster declared by a user is derived, every module disabled.
        body = {
            "apiVersion": "core.liqo.io/v1beta1", "kind": "ForeignCluster",
            "metadata": {"name": declared}, "spec": {"clusterID": declared},
        }  # fmt: skip
        side.kubectl("apply", "-f", "-", input=json.dumps(body))
        side.start()
        fc = wait_fc(side, declared, "derived", lambda fc: "status" in fc)
        assert fc["status"]["role"] == "Unknown"
        assert fc["status"]["modules"] == {
            "networking": {"enabled": False},
            "authentication": {"enabled": False},
            "offloading": {"enabled": False},
        }
        assert fc["status"]["observedGeneration"] == fc["metadata"]["generation"]
        # Its user removes it; with no peer object, nothing creates it again.
        side.custom.delete_cluster_custom_object(*FC, declared)
        wait_for(
            "the declared ForeignCluster gone", lambda: foreign_cluster(side, declared) is None
        )
    finally:
        side.stop()
        cleanup_cluster(cluster, suffix, created)


def test_foreign_clusters_follow_the_peering(pair: Pair) -> None:
    p, c = pair.provider, pair.consumer
    declarative_handshake(p, c)

    # Consumer: the peer provides; its control-plane identity and API server are ready.
    on_c = wait_fc(
        c, p.cluster_id, "Provider, Ready",
        lambda fc: role_is("Provider")(fc)
        and (auth_condition(fc, "AuthIdentityControlPlaneStatus") or {}).get("status") == "Ready"
        and (api_server(fc) or {}).get("status") == "Established",
    )  # fmt: skip
    assert on_c["spec"]["clusterID"] == p.cluster_id
    assert on_c["metadata"]["labels"]["liqo.io/managed-by"] == "foreigncluster"
    status = on_c["status"]
    assert status["modules"]["authentication"]["enabled"] is True
    assert status["modules"]["networking"] == {"enabled": False}
    assert status["modules"]["offloading"] == {"enabled": False}
    assert status["tenantNamespace"] == {
        "local": tenant_namespace(p),
        "remote": tenant_namespace(c),
    }
    assert status["apiServerUrl"].startswith("https://")
    assert api_server(on_c)["reason"] == "APIServerReady"  # type: ignore[index]

    # Provider: the peer consumes; its Tenant is ready. No API server to check.
    on_p = wait_fc(
        p, c.cluster_id, "Consumer, Tenant Ready",
        lambda fc: role_is("Consumer")(fc)
        and (auth_condition(fc, "AuthTenantStatus") or {}).get("status") == "Ready",
    )  # fmt: skip
    assert on_p["status"]["tenantNamespace"] == {"local": tenant_namespace(c)}
    assert api_server(on_p) is None

    # liqoctl info: the installation and its peerings; info peer: what is done.
    summary = json.loads(c.liqoctl("info", "-o", "json").stdout)
    assert summary["local"]["clusterID"] == c.cluster_id
    assert summary["local"]["modules"] == ["authentication"]
    [peering] = [e for e in summary["peerings"] if e["clusterID"] == p.cluster_id]
    expected = ("Provider", "Established", [])
    assert (peering["role"], peering["apiServer"], peering["problems"]) == expected
    detailed = info_peer(c, p.cluster_id)
    assert detailed["role"] == "Provider"
    assert detailed["apiServer"]["status"] == "Established"
    assert [d["state"] for d in detailed["modules"]["authentication"]["details"]] == ["done"]
    text = c.liqoctl("info", "peer", p.cluster_id).stdout
    assert "AuthIdentityControlPlaneStatus: Ready" in text
    assert "Networking: module disabled" in text

    # A read model: deleted, it comes back (and keeps deriving).
    uid = on_c["metadata"]["uid"]
    c.custom.delete_cluster_custom_object(*FC, p.cluster_id)
    wait_fc(
        c, p.cluster_id, "recreated",
        lambda fc: fc["metadata"]["uid"] != uid and role_is("Provider")(fc),
    )  # fmt: skip

    # Bidirectional: P also consumes from C.
    declarative_handshake(c, p)
    both = role_is("ConsumerAndProvider")
    wait_fc(c, p.cluster_id, "ConsumerAndProvider", both)
    wait_fc(p, c.cluster_id, "ConsumerAndProvider", both)

    # The provider's API server unreachable: NotReady; back: Ready, a new transition.
    identity_name = f"controlplane-{p.cluster_id}"
    ready_since = api_server(foreign_cluster(c, p.cluster_id))["lastTransitionTime"]  # type: ignore[index]
    closed = f"https://127.0.0.1:{free_port()}"
    original = patch_api_server(c, tenant_namespace(p), identity_name, closed)
    down = wait_fc(
        c, p.cluster_id, "API server NotReady",
        lambda fc: (api_server(fc) or {}).get("status") == "Error",
        CHECK_WAIT,
    )  # fmt: skip
    assert api_server(down)["reason"] == "APIServerNotReady"  # type: ignore[index]
    assert down["status"]["apiServerUrl"] == closed
    patch_api_server(c, tenant_namespace(p), identity_name, original)
    up = wait_fc(
        c, p.cluster_id, "API server Ready again",
        lambda fc: (api_server(fc) or {}).get("status") == "Established",
        CHECK_WAIT,
    )  # fmt: skip
    assert api_server(up)["lastTransitionTime"] >= ready_since  # type: ignore[index]

    # Unpeering both ways leaves no ForeignCluster behind.
    for provider, consumer in ((p, c), (c, p)):
        consumer.kubectl(
            "delete", "identity", f"controlplane-{provider.cluster_id}",
            "-n", tenant_namespace(provider),
        )  # fmt: skip
        provider.kubectl("delete", "tenant", consumer.cluster_id, "-n", tenant_namespace(consumer))
    wait_for("no ForeignCluster on C", lambda: foreign_cluster(c, p.cluster_id) is None)
    wait_for("no ForeignCluster on P", lambda: foreign_cluster(p, c.cluster_id) is None)


def patch_api_server(side: Side, namespace: str, name: str, url: str) -> str:
    """Point an Identity at ``url``; return the URL it had."""
    identity: Any = side.custom.get_namespaced_custom_object(
        "authentication.liqo.io", "v1beta1", namespace, "identities", name
    )
    before = str(identity["spec"]["authParams"]["apiServer"])
    side.custom.patch_namespaced_custom_object(
        "authentication.liqo.io", "v1beta1", namespace, "identities", name,
        {"spec": {"authParams": {"apiServer": url}}},
    )  # fmt: skip
    return before


def test_info_peer_says_why_a_tenant_is_refused(pair: Pair) -> None:
    p = pair.provider
    intruder = f"forger-{pair.suffix}"
    nonce = forge.create_nonce(p.api, intruder).encode()
    key, stranger = crypto.generate_private_key(), crypto.generate_private_key()
    tenant = forge.forge_tenant(intruder, key, crypto.sign(stranger, nonce))
    tenant["metadata"]["namespace"] = f"liqo-tenant-{intruder}"
    p.kubectl("apply", "-f", "-", input=json.dumps(tenant))

    fc = wait_fc(
        p, intruder, "Tenant refused",
        lambda fc: (auth_condition(fc, "AuthTenantStatus") or {}).get("reason")
        == "SignatureVerificationFailed",
    )  # fmt: skip
    assert fc["status"]["role"] == "Consumer"
    assert auth_condition(fc, "AuthTenantStatus")["status"] == "NotReady"  # type: ignore[index]

    text = p.liqoctl("info", "peer", intruder).stdout
    assert f"Tenant liqo-tenant-{intruder}/{intruder} refused: SignatureVerificationFailed" in text
    details = p.liqoctl(
        "info", "peer", intruder, "--get", "modules.authentication.details", "-o", "json"
    ).stdout
    [stuck] = [d for d in json.loads(details) if d["state"] == "stuck"]
    assert "SignatureVerificationFailed" in stuck["text"]
    summary = json.loads(p.liqoctl("info", "-o", "json").stdout)
    [peering] = [e for e in summary["peerings"] if e["clusterID"] == intruder]
    assert peering["problems"] == ["AuthTenantStatus: NotReady"]

    unknown = p.liqoctl("info", "peer", f"nobody-{pair.suffix}", check=False)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("Error: no peering with nobody-")
    assert len(unknown.stderr.strip().splitlines()) == 1
