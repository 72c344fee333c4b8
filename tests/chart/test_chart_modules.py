"""Module toggles and transport selection, as the chart renders them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import pytest

from .conftest import NAMESPACE, Manifest, Rendered, RenderFn

MODULES = ("networking", "authentication", "offloading")

# Resources (group, plural) that only one module's rules grant in the controller-manager's
# ClusterRole (the authentication module also reaches Quotas and NamespaceMaps).
MODULE_RESOURCES = {
    "networking": {("networking.liqo.io", "*"), ("ipam.liqo.io", "networks")},
    "authentication": {("authentication.liqo.io", "tenants"), ("", "serviceaccounts/token")},
    "offloading": {("offloading.liqo.io", "virtualnodes"), ("offloading.liqo.io", "shadowpods")},
}

# ClusterRoles that modules bind consumers to, with the app.kubernetes.io/name they are
# discovered by, and the module that owns them.
CONSUMER_ROLES = {
    "liqo-virtual-kubelet-local": ("virtual-kubelet-local", "offloading"),
    "liqo-remote-controlplane": ("remote-controlplane", "authentication"),
    "liqo-virtual-kubelet-remote-clusterwide": (
        "virtual-kubelet-remote-clusterwide",
        "authentication",
    ),
    "liqo-virtual-kubelet-remote": ("virtual-kubelet-remote", "offloading"),
}


def _groups(rules: list[Manifest]) -> set[str]:
    return {group for rule in rules for group in rule["apiGroups"]}


def _resources(rules: list[Manifest]) -> set[tuple[str, str]]:
    return {(g, r) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]}


def _signers(rules: list[Manifest]) -> set[str]:
    """CSR signers the controller-manager may approve for (one per module that signs)."""
    return {
        name
        for rule in rules
        if "signers" in rule["resources"]
        for name in rule.get("resourceNames", [])
    }


def _toggles(**enabled: bool) -> dict[str, Any]:
    return {module: {"enabled": on} for module, on in enabled.items()}


def test_default_render_enables_every_module(render: RenderFn) -> None:
    rendered = render()
    settings = rendered.settings()

    assert settings["modules"] == ["networking", "authentication", "offloading"]
    assert settings["namespace"] == NAMESPACE
    assert settings["networking"]["transport"] == "wireguard"
    assert settings["networking"]["transports"] == {"wireguard": {"implementation": "kernel"}}
    assert settings["controllerManager"] == {
        "leaderElection": {"enabled": False, "leaseName": "66cf253f.ctrlmgr.liqo.io"},
        "healthPort": 8081,
        "metricsPort": 8082,
    }
    resources = _resources(rendered.controller_manager_rules())
    for module_resources in MODULE_RESOURCES.values():
        assert module_resources <= resources
    for name, (discovery_name, _) in CONSUMER_ROLES.items():
        role = rendered.get("ClusterRole", name)
        assert role["metadata"]["labels"]["app.kubernetes.io/name"] == discovery_name


def test_settings_file_has_the_documented_shape(render: RenderFn) -> None:
    settings = render().settings()
    assert set(settings) == {
        "clusterID",
        "namespace",
        "modules",
        "networking",
        "authentication",
        "offloading",
        "controllerManager",
    }


@pytest.mark.parametrize("disabled", MODULES)
def test_a_module_off_leaves_config_and_rbac(render: RenderFn, disabled: str) -> None:
    rendered = render({disabled: {"enabled": False}})
    settings = rendered.settings()

    expected = [module for module in MODULES if module != disabled]
    assert settings["modules"] == expected
    assert disabled not in settings
    for module in expected:
        assert module in settings

    resources = _resources(rendered.controller_manager_rules())
    assert not resources & MODULE_RESOURCES[disabled]
    for module in expected:
        assert MODULE_RESOURCES[module] <= resources

    signers = _signers(rendered.controller_manager_rules())
    assert ("kubernetes.io/kube-apiserver-client" in signers) == (disabled != "authentication")
    assert ("kubernetes.io/kubelet-serving" in signers) == (disabled != "offloading")

    for name, (_, owner) in CONSUMER_ROLES.items():
        assert (rendered.find("ClusterRole", name) is not None) == (owner != disabled), name


def test_all_modules_off_keeps_the_core(render: RenderFn) -> None:
    rendered = render(_toggles(networking=False, authentication=False, offloading=False))
    settings = rendered.settings()

    assert settings["modules"] == []
    assert not set(settings) & set(MODULES)
    assert _groups(rendered.controller_manager_rules()) == {
        "core.liqo.io",
        "",
        "events.k8s.io",
        "apiextensions.k8s.io",
    }
    assert [role["metadata"]["name"] for role in rendered.of_kind("ClusterRole")] == [
        "liqo-controller-manager"
    ]
    lease_role = rendered.get("Role", "liqo-controller-manager")
    assert lease_role["metadata"]["namespace"] == NAMESPACE
    assert _groups(lease_role["rules"]) == {"coordination.k8s.io"}


def test_only_offloading_is_offloading_without_the_others(render: RenderFn) -> None:
    settings = render(_toggles(networking=False, authentication=False)).settings()
    assert settings["modules"] == ["offloading"]


def test_third_party_transport_is_named_in_the_config(render: RenderFn) -> None:
    rendered = render(
        {
            "networking": {
                "transport": "ipsec",
                "gatewayTemplates": {"ipsec": {"ikeVersion": 2}},
            }
        }
    )
    networking = rendered.settings()["networking"]
    assert networking["transport"] == "ipsec"
    # The selected transport gets its own options, not WireGuard's.
    assert networking["transports"] == {"ipsec": {"ikeVersion": 2}}


WIDGETS_RULE = {"apiGroups": ["example.io"], "resources": ["widgets"], "verbs": ["get", "list"]}


def test_extra_modules_are_started_configured_and_granted(render: RenderFn, tmp_path: Path) -> None:
    values = {
        "offloading": {"enabled": False},
        "extraModules": [
            {"name": "widgets", "options": {"period": 5}, "rules": [WIDGETS_RULE]},
            {"name": "gadgets"},
        ],
    }
    rendered = render(values)
    settings = rendered.settings()

    # After the built-in modules, in the order given; a module's options are its own
    # settings section (validated by the section model it declares), only where given.
    assert settings["modules"] == ["networking", "authentication", "widgets", "gadgets"]
    assert settings["widgets"] == {"period": 5}
    assert "gadgets" not in settings
    assert WIDGETS_RULE in rendered.controller_manager_rules()


def test_no_extra_modules_renders_no_sections(render: RenderFn) -> None:
    assert set(render().settings()) == {
        "clusterID",
        "namespace",
        "modules",
        "networking",
        "authentication",
        "offloading",
        "controllerManager",
    }


def test_an_extra_module_listed_twice_fails_the_render(render: RenderFn) -> None:
    twice = {"extraModules": [{"name": "widgets"}, {"name": "widgets"}]}
    with pytest.raises(helm.HelmError, match="widgets is listed more than once"):
        render(twice)


def test_transport_without_options_gets_none(render: RenderFn) -> None:
    networking = render({"networking": {"transport": "ipsec"}}).settings()["networking"]
    assert networking["transport"] == "ipsec"
    assert "transports" not in networking


def test_userspace_wireguard_reaches_the_transport(render: RenderFn) -> None:
    values = {"networking": {"gatewayTemplates": {"wireguard": {"implementation": "userspace"}}}}
    networking = render(values).settings()["networking"]
    assert networking["transports"] == {"wireguard": {"implementation": "userspace"}}


def test_networking_off_renders_no_transport(render: RenderFn) -> None:
    rendered = render({"networking": {"enabled": False, "transport": "ipsec"}})
    assert "networking" not in rendered.settings()
    assert "ipsec" not in rendered.settings_text()
    assert "transport" not in rendered.settings_text()


def test_module_settings_carry_their_values(render: RenderFn) -> None:
    values = {
        "authentication": {"tlsCompatibilityMode": True, "defaultResourceSliceClassEnabled": False},
        "offloading": {"defaultNodeResources": {"cpu": 8, "nvidia.com/gpu": "1"}},
    }
    settings = render(values).settings()
    auth = settings["authentication"]
    # (webhook: see test_chart_webhook)
    assert {k: auth[k] for k in auth if k not in ("defaultNodeResources", "webhook")} == {
        "tlsCompatibilityMode": True,
        "defaultResourceSliceClassEnabled": False,
        "identityProvider": "kubernetes-csr",
        "defaultLimitsEnforcement": "None",
    }
    # Helm merges maps, so the defaults' other keys stay; quantities become strings.
    assert auth["defaultNodeResources"] == {
        "cpu": "8",
        "memory": "8Gi",
        "pods": "110",
        "ephemeral-storage": "20Gi",
        "nvidia.com/gpu": "1",
    }


def test_controller_manager_rbac_is_bounded(render: RenderFn) -> None:
    rendered = render()
    for rule in rendered.controller_manager_rules():
        assert "*" not in rule["verbs"], rule
        assert "*" not in rule["apiGroups"], rule
        if "bind" in rule["verbs"] or "approve" in rule["verbs"]:
            assert rule.get("resourceNames"), rule
    # Bindings can only point consumers at the roles this chart renders.
    bindable = {
        name
        for rule in rendered.controller_manager_rules()
        if "bind" in rule["verbs"]
        for name in rule["resourceNames"]
    }
    assert bindable == set(CONSUMER_ROLES)
    for name in bindable:
        rendered.get("ClusterRole", name)


def test_service_account_is_bound_to_its_roles(render: RenderFn) -> None:
    rendered = render()
    account = rendered.get("ServiceAccount", "liqo-controller-manager")
    assert account["metadata"]["namespace"] == NAMESPACE
    subject = {"kind": "ServiceAccount", "name": "liqo-controller-manager", "namespace": NAMESPACE}
    cluster_binding = rendered.get("ClusterRoleBinding", "liqo-controller-manager")
    assert cluster_binding["roleRef"]["name"] == "liqo-controller-manager"
    assert cluster_binding["roleRef"]["kind"] == "ClusterRole"
    assert cluster_binding["subjects"] == [subject]
    binding = rendered.get("RoleBinding", "liqo-controller-manager")
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "liqo-controller-manager",
    }
    assert binding["subjects"] == [subject]


def test_remote_controlplane_role_grants_the_replicated_kinds(render: RenderFn) -> None:
    role = render().get("ClusterRole", "liqo-remote-controlplane")
    granted = {
        (group, resource)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    for group, resource in [
        ("authentication.liqo.io", "resourceslices"),
        ("authentication.liqo.io", "resourceslices/status"),
        ("authentication.liqo.io", "renews"),
        ("authentication.liqo.io", "renews/status"),
        ("offloading.liqo.io", "namespacemaps"),
        ("offloading.liqo.io", "namespacemaps/status"),
    ]:
        assert (group, resource) in granted
    assert {group for group, _ in granted} == {"authentication.liqo.io", "offloading.liqo.io"}


def test_every_object_has_global_labels_and_annotations(render: RenderFn) -> None:
    values = {
        "common": {
            "globalLabels": {"liqo.io/managed": "true", "team": "platform"},
            "globalAnnotations": {"example.com/owner": "ops"},
        },
        "metrics": {"enabled": True},
    }
    rendered: Rendered = render(values)
    assert rendered.objects
    for obj in rendered.objects:
        metadata = obj["metadata"]
        assert metadata["labels"]["liqo.io/managed"] == "true", obj["kind"]
        assert metadata["labels"]["team"] == "platform", obj["kind"]
        assert metadata["labels"]["app.kubernetes.io/part-of"] == "liqo"
        assert metadata["annotations"] == {"example.com/owner": "ops"}, obj["kind"]
    pod_metadata = rendered.get("Deployment", "liqo-controller-manager")["spec"]["template"][
        "metadata"
    ]
    assert pod_metadata["labels"]["team"] == "platform"
    assert pod_metadata["annotations"]["example.com/owner"] == "ops"


def test_default_global_label_is_liqo_managed(render: RenderFn) -> None:
    for obj in render().objects:
        assert obj["metadata"]["labels"]["liqo.io/managed"] == "true"
        assert "annotations" not in obj["metadata"]
