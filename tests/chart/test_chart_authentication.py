"""The authentication module's values, settings and RBAC, as the chart renders them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from liqo_auth.settings import AuthenticationSettings

from liqo_core.settings import load_settings

from .conftest import Manifest, RenderFn

CA = "-----BEGIN CERTIFICATE-----\nMIIBczCCARmgAwIBAgIBADAK\n-----END CERTIFICATE-----\n"

EVERY_VALUE: dict[str, Any] = {
    "authentication": {
        "identityProvider": "serviceaccount-token",
        "credentialLifetime": "36h",
        "tlsCompatibilityMode": True,
    },
    "apiServer": {"address": "https://liqo.example.com:6443", "ca": CA},
    "discovery": {"config": {"clusterLabels": {"topology.kubernetes.io/region": "eu-west"}}},
    "controllerManager": {"config": {"defaultLimitsEnforcement": "Hard"}},
}

# What the module needs beyond its own CRDs, as (group, resource, verb).
MODULE_NEEDS = {
    ("rbac.authorization.k8s.io", "clusterroles", "list"),
    ("rbac.authorization.k8s.io", "clusterroles", "watch"),
    ("rbac.authorization.k8s.io", "clusterroles", "get"),
    ("", "serviceaccounts", "create"),
    ("", "serviceaccounts", "delete"),
    ("", "serviceaccounts/token", "create"),
    ("offloading.liqo.io", "quotas", "create"),
    ("offloading.liqo.io", "quotas", "update"),
    ("offloading.liqo.io", "quotas", "delete"),
    ("offloading.liqo.io", "quotas", "watch"),
    ("offloading.liqo.io", "namespacemaps", "watch"),
    ("offloading.liqo.io", "namespacemaps/status", "update"),
    ("certificates.k8s.io", "certificatesigningrequests", "create"),
    ("rbac.authorization.k8s.io", "rolebindings", "create"),
    ("rbac.authorization.k8s.io", "clusterrolebindings", "create"),
}


def _grants(rules: list[Manifest]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        if not rule.get("resourceNames")
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _auth_only(**values: Any) -> dict[str, Any]:
    return {"networking": {"enabled": False}, "offloading": {"enabled": False}, **values}


def test_defaults_name_the_csr_provider_and_the_signer_lifetime(render: RenderFn) -> None:
    settings = render().settings()
    assert settings["authentication"]["identityProvider"] == "kubernetes-csr"
    assert "credentialLifetime" not in settings["authentication"]
    assert settings["authentication"]["defaultLimitsEnforcement"] == "None"
    # Empty API-server overrides and labels are left out: the defaults apply.
    assert "apiServer" not in settings["authentication"]
    assert "clusterLabels" not in settings["authentication"]


@pytest.mark.parametrize(
    ("lifetime", "seconds"),
    [("36h", 129600.0), ("1h30m", 5400.0), (86400, 86400.0), ("600", 600.0), ("", None)],
)
def test_rendered_settings_load_with_every_value(
    render: RenderFn, tmp_path: Path, lifetime: str | int, seconds: float | None
) -> None:
    values = {**EVERY_VALUE, "authentication": {**EVERY_VALUE["authentication"]}}
    values["authentication"]["credentialLifetime"] = lifetime
    config = tmp_path / "config.yaml"
    config.write_text(render(values).settings_text())

    auth = load_settings(config).section(AuthenticationSettings)

    assert auth.identity_provider == "serviceaccount-token"
    assert auth.credential_lifetime == seconds
    assert auth.tls_compatibility_mode is True
    assert auth.api_server.address == "https://liqo.example.com:6443"
    assert auth.api_server.ca == CA
    assert auth.cluster_labels == {"topology.kubernetes.io/region": "eu-west"}
    assert auth.default_limits_enforcement == "Hard"


def test_third_party_identity_provider_is_named_as_given(render: RenderFn) -> None:
    settings = render({"authentication": {"identityProvider": "aws-iam"}}).settings()
    assert settings["authentication"]["identityProvider"] == "aws-iam"


def test_module_off_renders_none_of_its_settings_roles_or_rules(render: RenderFn) -> None:
    values = {**EVERY_VALUE, "authentication": {"enabled": False, "identityProvider": "x"}}
    rendered = render(values)
    settings = rendered.settings()

    assert "authentication" not in settings["modules"]
    assert "authentication" not in settings
    assert "liqo.example.com" not in rendered.settings_text()
    for name in ("liqo-remote-controlplane", "liqo-virtual-kubelet-remote-clusterwide"):
        assert rendered.find("ClusterRole", name) is None

    on = _grants(render(_auth_only()).controller_manager_rules())
    off = _grants(render(_auth_only(authentication={"enabled": False})).controller_manager_rules())
    assert not off & MODULE_NEEDS
    assert not {grant for grant in off if grant[0] == "authentication.liqo.io"}
    assert on >= MODULE_NEEDS


def test_module_alone_holds_what_its_controllers_need(render: RenderFn) -> None:
    """Networking and offloading off: the module must not lean on their rules."""
    rules = render(_auth_only()).controller_manager_rules()
    assert _grants(rules) >= MODULE_NEEDS


def test_module_rules_are_least_privilege(render: RenderFn) -> None:
    rules = render(_auth_only()).controller_manager_rules()
    for rule in rules:
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], rule
    # Roles are discovered by label (list/watch on every ClusterRole) but only the chart's
    # two are bindable, so discovery cannot widen what a consumer is granted.
    bindable = {name for rule in rules if "bind" in rule["verbs"] for name in rule["resourceNames"]}
    assert bindable == {"liqo-remote-controlplane", "liqo-virtual-kubelet-remote-clusterwide"}
    escalating = {"escalate", "impersonate"}
    assert not any(escalating & set(rule["verbs"]) for rule in rules)
    # Tokens are only requested, never read back from Secrets of other ServiceAccounts.
    token_rules = [rule for rule in rules if "serviceaccounts/token" in rule["resources"]]
    assert [rule["verbs"] for rule in token_rules] == [["create"]]


def test_discoverable_roles_carry_their_label(render: RenderFn) -> None:
    rendered = render(_auth_only())
    for name, label in [
        ("liqo-remote-controlplane", "remote-controlplane"),
        ("liqo-virtual-kubelet-remote-clusterwide", "virtual-kubelet-remote-clusterwide"),
    ]:
        labels = rendered.get("ClusterRole", name)["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == label
        assert labels["app.kubernetes.io/component"] == "authentication"
