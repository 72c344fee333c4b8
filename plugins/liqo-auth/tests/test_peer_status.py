"""The authentication module's view of a peer, from Tenant, Identity, Secret and slices."""

from __future__ import annotations

import base64
from typing import Any

import yaml
from liqo_auth import peer_status
from liqo_auth.peer_status import (
    add_identity,
    add_kubeconfig_secret,
    add_resource_slice,
    add_tenant,
)

from liqo_core.peers import ModulePeerStatus


def tenant(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "c", "namespace": "liqo-tenant-c"},
        "spec": {"clusterID": "c"},
        "status": status,
    }


def kubeconfig_secret(server: str = "https://p:6443", **meta: Any) -> dict[str, Any]:
    config = {"clusters": [{"name": "p", "cluster": {"server": server}}]}
    data = base64.b64encode(yaml.safe_dump(config).encode()).decode()
    metadata = {"name": "kubeconfig-controlplane-p", "namespace": "liqo-tenant-p", **meta}
    return {"metadata": metadata, "data": {"kubeconfig": data}}


def test_a_ready_tenant() -> None:
    report = ModulePeerStatus()
    add_tenant(report, tenant(tenantNamespace="liqo-tenant-c", authParams={"apiServer": "x"}))
    assert report.in_use and report.consumer and not report.provider
    [condition] = report.conditions
    assert (condition.type, condition.status, condition.reason) == (
        "AuthTenantStatus",
        "Ready",
        "TenantReady",
    )
    assert report.tenant_namespace_local == "liqo-tenant-c"
    assert [d.state for d in report.details] == ["done"]


def test_a_tolerated_tenant_is_ready_with_its_namespace_only() -> None:
    report = ModulePeerStatus()
    body = tenant(tenantNamespace="liqo-tenant-c")
    body["spec"]["authzPolicy"] = "TolerateNoHandshake"
    add_tenant(report, body)
    assert report.conditions[0].status == "Ready"


def test_a_refused_tenant_says_why() -> None:
    report = ModulePeerStatus()
    refused = {
        "type": "HandshakeVerified",
        "status": "False",
        "reason": "SignatureVerificationFailed",
        "message": "bad signature",
    }
    add_tenant(report, tenant(conditions=[refused]))
    [condition] = report.conditions
    assert (condition.status, condition.reason) == ("NotReady", "SignatureVerificationFailed")
    [detail] = report.details
    assert detail.state == "stuck"
    assert detail.text == (
        "Tenant liqo-tenant-c/c refused: SignatureVerificationFailed: bad signature"
    )


def test_a_cordoned_tenant_is_reported() -> None:
    report = ModulePeerStatus()
    body = tenant(tenantNamespace="liqo-tenant-c", authParams={"apiServer": "x"})
    body["spec"]["tenantCondition"] = "Cordoned"
    add_tenant(report, body)
    assert [d.state for d in report.details] == ["done", "stuck"]


def test_an_identity_waits_for_its_kubeconfig_then_is_ready() -> None:
    identity = {
        "metadata": {"name": "controlplane-p", "namespace": "liqo-tenant-p"},
        "spec": {
            "clusterID": "p",
            "type": "ControlPlane",
            "namespace": "liqo-tenant-c",
            "authParams": {"apiServer": "https://p:6443"},
        },
    }
    waiting = ModulePeerStatus()
    add_identity(waiting, identity, None)
    assert waiting.provider and waiting.kubeconfig is None
    assert (waiting.conditions[0].status, waiting.details[0].text) == (
        "NotReady",
        "Identity liqo-tenant-p/controlplane-p: waiting for the kubeconfig Secret",
    )
    ready = ModulePeerStatus()
    add_identity(ready, identity, kubeconfig_secret())
    assert ready.conditions[0].status == "Ready"
    assert ready.kubeconfig is not None and "https://p:6443" in ready.kubeconfig
    assert (ready.tenant_namespace_local, ready.tenant_namespace_remote) == (
        "liqo-tenant-p",
        "liqo-tenant-c",
    )
    assert ready.api_server_url == "https://p:6443"


def test_a_kubeconfig_secret_alone_makes_a_provider() -> None:
    report = ModulePeerStatus()
    secret = kubeconfig_secret(annotations={"liqo.io/remote-tenant-namespace": "remote-ns"})
    add_kubeconfig_secret(report, secret)
    assert report.provider and report.api_server_url == "https://p:6443"
    assert report.tenant_namespace_remote == "remote-ns"
    assert report.conditions[0].type == "AuthIdentityControlPlaneStatus"


def test_resource_slices() -> None:
    report = ModulePeerStatus()
    meta = {"name": "p", "namespace": "liqo-tenant-p"}
    denied = {
        "metadata": meta,
        "status": {
            "conditions": [
                {"type": "Authentication", "status": "Accepted"},
                {"type": "Resources", "status": "Denied",
                 "reason": "DefaultResourceSliceClassDisabled", "message": "no default class"},
            ]
        },
    }  # fmt: skip
    accepted = {
        "metadata": {**meta, "labels": {"liqo.io/replicated": "true"}},
        "status": {
            "conditions": [
                {"type": "Authentication", "status": "Accepted"},
                {"type": "Resources", "status": "Accepted"},
            ],
            "resources": {"cpu": "4"},
        },
    }
    add_resource_slice(report, "c", denied)
    add_resource_slice(report, "c", accepted)
    add_resource_slice(report, "c", {"metadata": meta})
    assert report.in_use and not (report.consumer or report.provider)
    assert [(d.state, d.text) for d in report.details] == [
        ("stuck", "ResourceSlice liqo-tenant-p/p denied (Resources): "
                  "DefaultResourceSliceClassDisabled: no default class"),
        ("done", "ResourceSlice liqo-tenant-p/p (from c) accepted: cpu=4"),
        ("waiting", "ResourceSlice liqo-tenant-p/p: waiting for the provider's decision"),
    ]  # fmt: skip


def test_watched_resources() -> None:
    paths = [(w.path, w.selector) for w in peer_status.WATCHES]
    assert paths == [
        ("/apis/authentication.liqo.io/v1beta1/tenants", None),
        ("/apis/authentication.liqo.io/v1beta1/identities", None),
        ("/apis/authentication.liqo.io/v1beta1/resourceslices", "liqo.io/remote-cluster-id"),
        ("/api/v1/secrets", "liqo.io/remote-cluster-id,liqo.io/identity-type=ControlPlane"),
    ]
    assert peer_status.WATCHES[0].peer_of(tenant()) == "c"
