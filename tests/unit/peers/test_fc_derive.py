"""ForeignCluster status derivation from module reports (pure logic)."""

from __future__ import annotations

from liqo_core.api.core_v1beta1 import ForeignClusterStatus
from liqo_core.peers import ModulePeerStatus, PeerCondition, PeerDetail
from liqo_core.peers.controller import auto_created, new_foreign_cluster
from liqo_core.peers.derive import (
    derive_status,
    in_use,
    merge_conditions,
    merge_reports,
    peering_role,
)

T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T00:05:00Z"
ALL = ("networking", "authentication", "offloading")


def tenant_ready() -> ModulePeerStatus:
    return ModulePeerStatus(
        in_use=True,
        consumer=True,
        tenant_namespace_local="liqo-tenant-c",
        conditions=[PeerCondition("AuthTenantStatus", "Ready", "TenantReady", "ok")],
    )


def identity_ready() -> ModulePeerStatus:
    return ModulePeerStatus(
        in_use=True,
        provider=True,
        tenant_namespace_local="liqo-tenant-p",
        tenant_namespace_remote="liqo-tenant-c",
        api_server_url="https://p.example:6443",
        kubeconfig="apiVersion: v1",
        conditions=[PeerCondition("AuthIdentityControlPlaneStatus", "Ready", "IdentityReady")],
    )


def test_roles() -> None:
    assert peering_role(False, False) == "Unknown"
    assert peering_role(True, False) == "Consumer"
    assert peering_role(False, True) == "Provider"
    assert peering_role(True, True) == "ConsumerAndProvider"


def test_a_tenant_makes_the_peer_a_consumer() -> None:
    status = derive_status(None, ALL, {"authentication": tenant_ready()}, None, T0, generation=1)
    assert status["role"] == "Consumer"
    assert status["observedGeneration"] == 1
    assert status["tenantNamespace"] == {"local": "liqo-tenant-c"}
    auth = status["modules"]["authentication"]
    assert auth["enabled"] is True
    assert auth["conditions"] == [
        {
            "type": "AuthTenantStatus",
            "status": "Ready",
            "lastTransitionTime": T0,
            "reason": "TenantReady",
            "message": "ok",
        }
    ]
    assert status["modules"]["networking"] == {"enabled": False}
    assert "conditions" not in status
    ForeignClusterStatus.model_validate(status)  # fits the CRD's model


def test_both_directions_give_consumer_and_provider_and_the_api_server_condition() -> None:
    reports = {"authentication": merge_reports([tenant_ready(), identity_ready()])}
    api = PeerCondition("APIServerStatus", "Established", "APIServerReady", "reachable")
    status = derive_status(None, ALL, reports, api, T0)
    assert status["role"] == "ConsumerAndProvider"
    assert status["apiServerUrl"] == "https://p.example:6443"
    # The first report's namespace wins; the remote one comes from the Identity.
    assert status["tenantNamespace"] == {"local": "liqo-tenant-c", "remote": "liqo-tenant-c"}
    assert [c["type"] for c in status["conditions"]] == ["APIServerStatus"]
    types = [c["type"] for c in status["modules"]["authentication"]["conditions"]]
    assert types == ["AuthTenantStatus", "AuthIdentityControlPlaneStatus"]
    ForeignClusterStatus.model_validate(status)


def test_a_disabled_module_is_cleared_even_with_a_report() -> None:
    previous = derive_status(None, ALL, {"authentication": tenant_ready()}, None, T0)
    status = derive_status(previous, (), {"authentication": tenant_ready()}, None, T1)
    assert status["modules"]["authentication"] == {"enabled": False}
    assert status["role"] == "Unknown"
    assert "tenantNamespace" not in status


def test_transition_time_is_kept_while_the_status_holds() -> None:
    ready = [PeerCondition("APIServerStatus", "Established", "APIServerReady", "first")]
    first = merge_conditions(None, ready, T0)
    again = merge_conditions(
        first, [PeerCondition("APIServerStatus", "Established", "APIServerReady", "second")], T1
    )
    assert again[0]["lastTransitionTime"] == T0
    assert again[0]["message"] == "second"
    down = merge_conditions(
        again, [PeerCondition("APIServerStatus", "Error", "APIServerNotReady")], T1
    )
    assert down[0]["lastTransitionTime"] == T1
    assert "message" not in down[0]


def test_unchanged_reports_derive_an_identical_status() -> None:
    reports = {"authentication": tenant_ready()}
    first = derive_status(None, ALL, reports, None, T0)
    assert derive_status(first, ALL, reports, None, T1) == first


def test_merging_reports_and_use() -> None:
    merged = merge_reports(
        [
            ModulePeerStatus(details=[PeerDetail("waiting", "a")]),
            ModulePeerStatus(in_use=True, provider=True, api_server_url="https://x"),
        ]
    )
    assert merged.in_use and merged.provider and not merged.consumer
    assert merged.api_server_url == "https://x"
    assert [d.text for d in merged.details] == ["a"]
    assert in_use([merged]) and not in_use([ModulePeerStatus()])


def test_auto_created_foreign_clusters_are_labelled() -> None:
    body = new_foreign_cluster("peer-1")
    assert body["spec"] == {"clusterID": "peer-1"}
    assert body["metadata"]["labels"]["liqo.io/remote-cluster-id"] == "peer-1"
    assert auto_created(body)
    assert not auto_created({"metadata": {"name": "peer-1"}})


def test_the_kubeconfig_never_shows_in_a_report_repr() -> None:
    assert "apiVersion" not in repr(identity_ready())
