"""The Tenant and ResourceSlice admission rules, one rule per test."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from cryptography import x509
from liqo_auth.settings import AuthenticationSettings
from liqo_auth.webhooks import rules
from pydantic import ValidationError

from liqo_core.settings import WebhookSettings
from liqo_core.webhooks import self_signed_certificate, webhook_server


def obj(
    name: str = "s",
    namespace: str = "liqo-tenant-p",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels is not None:
        meta["labels"] = labels
    if annotations is not None:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": spec or {}}


CONTROL_PLANE = rules.Requester("consumer-a", ("liqo.io", "system:authenticated"))
PROVIDER_ADMIN = rules.Requester("kubernetes-admin", ("system:masters",))


# --- who is a consumer's control plane -------------------------------------------------------


def test_control_plane_certificates_are_in_group_liqo_io() -> None:
    assert rules.is_control_plane(CONTROL_PLANE, [])
    assert not rules.is_control_plane(PROVIDER_ADMIN, [])


@pytest.mark.parametrize(
    ("subject", "requester"),
    [
        ({"kind": "User", "name": "c1"}, rules.Requester("c1", ())),
        ({"kind": "Group", "name": "c1"}, rules.Requester("x", ("c1",))),
        ({"kind": "ServiceAccount", "name": "liqo-c1", "namespace": "t"},
         rules.Requester("system:serviceaccount:t:liqo-c1", ())),
    ],
)  # fmt: skip
def test_subjects_bound_to_the_control_plane_are_the_control_plane(
    subject: dict[str, str], requester: rules.Requester
) -> None:
    assert rules.is_control_plane(requester, [subject])
    assert not rules.is_control_plane(PROVIDER_ADMIN, [subject])


def test_requester_from_user_info() -> None:
    requester = rules.Requester.of({"username": "u", "groups": ["g"], "uid": "1"})
    assert requester == rules.Requester("u", ("g",))
    assert rules.Requester.of(None) == rules.Requester("", ())


# --- cordon annotations -------------------------------------------------------------------


@pytest.mark.parametrize("key", ["liqo.io/cordon", "liqo.io/cordon-tenant"])
@pytest.mark.parametrize(
    ("before", "after"),
    [(None, "true"), ("true", None), ("true", "false")],
    ids=["add", "remove", "change"],
)
def test_the_control_plane_cannot_touch_cordons(
    key: str, before: str | None, after: str | None
) -> None:
    old = obj(annotations={} if before is None else {key: before})
    new = obj(annotations={} if after is None else {key: after})
    [problem] = rules.slice_cordon_problems(old, new, control_plane=True)
    assert problem.startswith(f"metadata.annotations[{key}]: a consumer's control-plane")
    assert rules.slice_cordon_problems(old, new, control_plane=False) == []


def test_creating_a_cordoned_slice_is_adding_the_cordon() -> None:
    new = obj(annotations={"liqo.io/cordon": "true"})
    assert rules.cordon_changes(None, new) == ["liqo.io/cordon"]
    assert rules.cordon_changes(None, obj()) == []


def test_other_changes_keep_the_cordon_untouched() -> None:
    old = obj(annotations={"liqo.io/cordon": "true"}, spec={"resources": {"cpu": "1"}})
    new = obj(annotations={"liqo.io/cordon": "true", "x": "y"}, spec={"resources": {"cpu": "2"}})
    assert rules.slice_cordon_problems(old, new, control_plane=True) == []


# --- other ResourceSlice rules -------------------------------------------------------------


def test_replicated_slices_are_recognised() -> None:
    assert rules.is_replicated(obj(labels={"liqo.io/replicated": "true", "liqo.io/originID": "c"}))
    assert not rules.is_replicated(obj(labels={"liqo.io/replicated": "true"}))
    assert not rules.is_replicated(obj(labels={"liqo.io/replication": "true"}))


def test_the_remote_cluster_id_label_is_immutable() -> None:
    old = obj(labels={"liqo.io/remote-cluster-id": "p"})
    for new in (obj(labels={"liqo.io/remote-cluster-id": "q"}), obj(labels={})):
        [problem] = rules.slice_update_problems(old, new)
        assert problem.startswith("metadata.labels[liqo.io/remote-cluster-id]: is immutable")
    assert rules.slice_update_problems(old, old) == []
    # Adding it later is allowed (nothing was there to change).
    assert rules.slice_update_problems(obj(labels={}), old) == []


@pytest.mark.parametrize("field", ["consumerClusterID", "providerClusterID"])
def test_cluster_ids_are_immutable_once_set(field: str) -> None:
    unset, first, second = obj(), obj(spec={field: "a"}), obj(spec={field: "b"})
    assert rules.slice_update_problems(unset, first) == []  # filled in by resourceslice_local
    [problem] = rules.slice_update_problems(first, second)
    assert problem.startswith(f"spec.{field}: is immutable once set")
    assert rules.slice_update_problems(first, unset) != []


def test_no_two_slices_of_one_name_ask_the_same_cluster() -> None:
    new = obj(name="s", namespace="ns-a", labels={"liqo.io/remote-cluster-id": "p"})
    same_elsewhere = obj(name="s", namespace="ns-b", labels={"liqo.io/remote-cluster-id": "p"})
    other_cluster = obj(name="s", namespace="ns-c", labels={"liqo.io/remote-cluster-id": "q"})
    [problem] = rules.slice_duplicate_problems(new, [same_elsewhere])
    assert problem == "metadata.name: ResourceSlice ns-b/s already asks cluster p under this name"
    assert rules.slice_duplicate_problems(new, [new, other_cluster]) == []


# --- Tenants ------------------------------------------------------------------------------------


def tenant(namespace: str = "liqo-tenant-c", labels: dict[str, str] | None = None) -> Any:
    return obj(name="c", namespace=namespace, labels=labels, spec={"clusterID": "c"})


def tenant_ns(name: str, cluster: str) -> dict[str, Any]:
    labels = {"liqo.io/tenant-namespace": "true", "liqo.io/remote-cluster-id": cluster}
    return {"metadata": {"name": name, "labels": labels}}


def test_the_mutation_adds_the_cluster_id_label() -> None:
    assert rules.tenant_label_patch(tenant()) == {"liqo.io/remote-cluster-id": "c"}
    assert rules.tenant_label_patch(tenant(labels={"liqo.io/remote-cluster-id": "x"})) is None


def test_a_tenant_in_its_tenant_namespace_is_admitted() -> None:
    new = tenant(labels={"liqo.io/remote-cluster-id": "c"})
    ns = tenant_ns("liqo-tenant-c", "c")
    assert rules.tenant_create_problems(new, ns, ["liqo-tenant-c"], [], [new]) == []


def test_the_label_must_be_the_cluster_id() -> None:
    new = tenant(labels={"liqo.io/remote-cluster-id": "x"})
    [problem] = rules.tenant_create_problems(new, None, [], [], [])
    assert "must equal spec.clusterID ('c'), not 'x'" in problem


def test_a_tenant_in_another_clusters_tenant_namespace_is_refused() -> None:
    [problem] = rules.tenant_create_problems(tenant(), tenant_ns("liqo-tenant-c", "d"), [], [], [])
    assert problem.startswith("metadata.namespace: liqo-tenant-c is the tenant namespace of")


def test_a_tenant_outside_its_clusters_tenant_namespace_is_refused() -> None:
    new = tenant(namespace="default")
    [problem] = rules.tenant_create_problems(new, {"metadata": {}}, ["liqo-tenant-c"], [], [])
    assert "belongs in its tenant namespace liqo-tenant-c, not default" in problem
    # Without a tenant namespace for the cluster yet, the Tenant controller makes one.
    assert rules.tenant_create_problems(new, {"metadata": {}}, [], [], []) == []


def test_one_tenant_per_tenant_namespace() -> None:
    other = obj(name="d", namespace="liqo-tenant-c", spec={"clusterID": "d"})
    [problem] = rules.tenant_create_problems(tenant(), None, [], [other], [])
    assert "liqo-tenant-c already holds Tenant d (one Tenant per tenant namespace)" in problem


def test_tenant_names_are_unique_in_the_cluster() -> None:
    twin = tenant(namespace="elsewhere")
    [problem] = rules.tenant_create_problems(tenant(), None, [], [], [twin])
    assert problem == "metadata.name: a Tenant c already exists in elsewhere"


def test_a_tenants_cluster_id_never_changes() -> None:
    old = tenant(labels={"liqo.io/remote-cluster-id": "c"})
    relabelled = tenant(labels={"liqo.io/remote-cluster-id": "d"})
    problems = rules.tenant_update_problems(old, relabelled)
    assert any("is immutable (was 'c', now 'd')" in p for p in problems)
    moved = obj(name="c", labels={"liqo.io/remote-cluster-id": "c"}, spec={"clusterID": "d"})
    assert any(p.startswith("spec.clusterID: is immutable") for p in rules.tenant_update_problems(
        old, moved))  # fmt: skip
    assert rules.tenant_update_problems(old, old) == []


# --- server and settings ------------------------------------------------------------------------


def test_the_self_signed_certificate_names_every_host() -> None:
    pem, key = self_signed_certificate(["liqo-webhook.liqo.svc", "127.0.0.1", "0.0.0.0"])
    cert = x509.load_pem_x509_certificate(pem)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["liqo-webhook.liqo.svc"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert b"PRIVATE KEY" in key
    with pytest.raises(ValueError, match="at least one host"):
        self_signed_certificate(["0.0.0.0"])


def test_behind_a_service_the_client_config_names_the_service() -> None:
    server = webhook_server(WebhookSettings(enabled=True, service="liqo-webhook"), "liqo")
    assert server.service == {"namespace": "liqo", "name": "liqo-webhook", "port": 443}
    assert server.host == "liqo-webhook.liqo.svc"
    assert "liqo-webhook.liqo.svc.cluster.local" in server.extra_sans
    by_url = webhook_server(WebhookSettings(enabled=True, host="127.0.0.1", port=9555), "liqo")
    assert by_url.service is None and (by_url.host, by_url.port) == ("127.0.0.1", 9555)


def test_webhook_settings_are_validated() -> None:
    section = AuthenticationSettings.model_validate({"webhook": {"enabled": True, "port": 9443}})
    assert section.webhook.configuration == "liqo-webhook"
    with pytest.raises(ValidationError, match=r"certFile and webhook\.keyFile go together"):
        WebhookSettings.model_validate({"certFile": "/tls/tls.crt"})
    with pytest.raises(ValidationError):
        WebhookSettings.model_validate({"port": 70000})
