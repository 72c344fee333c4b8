"""LiqoSettings: defaults, the YAML file, the environment, flags, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from liqo_auth.settings import AuthenticationSettings

from liqo_core import LiqoSettings, SettingsError, load_settings

FILE = """\
clusterID: my-cluster
namespace: liqo-system
modules: [networking, offloading]
networking:
  transport: wireguard
  transports:
    wireguard: {implementation: userspace}
authentication:
  tlsCompatibilityMode: true
  defaultNodeResources: {cpu: "8", memory: 16Gi}
controllerManager:
  leaderElection: {enabled: false, leaseName: my.lease, leaseDuration: 1m30s}
  healthPort: 9081
  metricsPort: 9082
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LIQO_* variable from the caller leaks in; no /etc/liqo file is read."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("LIQO_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr("liqo_core.settings.DEFAULT_CONFIG_FILE", tmp_path / "absent.yaml")


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(FILE)
    return path


def test_defaults_follow_upstream() -> None:
    settings = load_settings()
    assert settings.cluster_id is None
    assert settings.namespace == "liqo"
    assert settings.modules == ["networking", "authentication", "offloading"]
    assert settings.networking.transport == "wireguard"
    assert settings.networking.transport_options("wireguard") == {}
    auth = settings.section(AuthenticationSettings)
    assert not auth.tls_compatibility_mode
    assert auth.default_resource_slice_class_enabled
    assert auth.default_node_resources == {
        "cpu": "4",
        "memory": "8Gi",
        "pods": "110",
        "ephemeral-storage": "20Gi",
    }
    assert auth.default_limits_enforcement == "None"
    election = settings.controller_manager.leader_election
    assert election.enabled
    assert election.lease_name == "66cf253f.ctrlmgr.liqo.io"
    assert (election.lease_duration, election.renew_deadline, election.retry_period) == (
        15.0,
        10.0,
        2.0,
    )
    assert settings.controller_manager.health_port == 8081
    assert settings.controller_manager.metrics_port == 8082


def test_file_keys_are_camel_case(config_file: Path) -> None:
    settings = load_settings(config_file)
    assert settings.config_file == config_file
    assert settings.cluster_id == "my-cluster"
    assert settings.namespace == "liqo-system"
    assert settings.modules == ["networking", "offloading"]
    assert settings.networking.transport_options("wireguard") == {"implementation": "userspace"}
    auth = settings.section(AuthenticationSettings)
    assert auth.tls_compatibility_mode
    assert auth.default_node_resources == {"cpu": "8", "memory": "16Gi"}
    election = settings.controller_manager.leader_election
    assert (election.enabled, election.lease_name, election.lease_duration) == (
        False,
        "my.lease",
        90.0,
    )
    assert settings.controller_manager.health_port == 9081
    assert not settings.module_enabled("authentication")


def test_environment_beats_file_and_flags_beat_environment(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIQO_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("LIQO_NAMESPACE", "from-env")
    monkeypatch.setenv("LIQO_CONTROLLER_MANAGER__HEALTH_PORT", "7001")
    monkeypatch.setenv("LIQO_MODULES", "authentication, offloading")
    settings = load_settings(namespace="from-flag", controller_manager={"metricsPort": 7002})
    assert settings.namespace == "from-flag"
    assert settings.modules == ["authentication", "offloading"]
    assert settings.controller_manager.health_port == 7001
    assert settings.controller_manager.metrics_port == 7002
    assert settings.controller_manager.leader_election.lease_name == "my.lease"
    assert settings.cluster_id == "my-cluster"


def test_modules_from_the_environment_as_json_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQO_MODULES", '["offloading"]')
    assert load_settings().modules == ["offloading"]
    monkeypatch.setenv("LIQO_MODULES", "")
    assert load_settings().modules == []


def test_unprefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAMESPACE", "kube-system")
    monkeypatch.setenv("CLUSTERID", "stray")
    settings = load_settings()
    assert (settings.namespace, settings.cluster_id) == ("liqo", None)


def test_both_spellings_of_a_key_are_accepted_and_merge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQO_CONTROLLER_MANAGER__HEALTH_PORT", "7001")
    settings = load_settings(clusterID="abc", controller_manager={"metrics_port": 7002})
    assert settings.cluster_id == "abc"
    assert settings.controller_manager.health_port == 7001
    assert settings.controller_manager.metrics_port == 7002


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"config file .*nope.yaml does not exist"):
        load_settings(tmp_path / "nope.yaml")


def test_unreadable_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("modules: [networking\nnamespace: x\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert str(caught.value).startswith(f"cannot read config file {path}:")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"clusterID": "Not_DNS"},
            "invalid setting clusterID (LIQO_CLUSTER_ID): 'Not_DNS' is not a valid DNS-1123 label",
        ),
        ({"namespace": "-x"}, "invalid setting namespace (LIQO_NAMESPACE)"),
        ({"modules": ["networking", "networking"]}, "modules listed more than once: networking"),
        ({"modules": ["core"]}, "'core' is the controller-manager's always-on operator"),
        (
            {"authentication": {"defaultLimitsEnforcement": "Strict"}},
            "invalid setting authentication.defaultLimitsEnforcement "
            "(LIQO_AUTHENTICATION__DEFAULT_LIMITS_ENFORCEMENT)",
        ),
        ({"authentication": "yes"}, "invalid setting authentication: must be a mapping"),
        (
            {"controllerManager": {"defaultLimitsEnforcement": "None"}},
            "invalid setting controllerManager.defaultLimitsEnforcement: Extra inputs",
        ),
        ({"modules": ["Bad Name"]}, "invalid setting modules.0 (LIQO_MODULES)"),
        ({"networking": {"transport": "Wire Guard"}}, "invalid setting networking.transport"),
        ({"networking": {"transprt": "x"}}, "invalid setting networking.transprt: Extra inputs"),
        (
            {"controllerManager": {"healthPort": 0}},
            "invalid setting controllerManager.healthPort "
            "(LIQO_CONTROLLER_MANAGER__HEALTH_PORT): Input should be greater than or equal to 1",
        ),
        (
            {"controllerManager": {"leaderElection": {"renewDeadline": "ten"}}},
            "controllerManager.leaderElection.renewDeadline",
        ),
        (
            {"authentication": {"defaultNodeResources": {"memory": "lots"}}},
            "memory: 'lots' is not a Kubernetes quantity",
        ),
        ({"colour": "blue"}, "unknown setting colour: no installed plugin declares"),
    ],
)
def test_invalid_values_name_the_field(values: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**values)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_several_problems_are_counted() -> None:
    with pytest.raises(SettingsError, match=r"\(and 1 more problem\)$"):
        load_settings(namespace="-", clusterID="-")


def test_settings_are_immutable() -> None:
    settings = LiqoSettings()
    with pytest.raises(ValueError, match="frozen"):
        settings.namespace = "x"  # type: ignore[misc]


def test_a_section_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQO_AUTHENTICATION__IDENTITY_PROVIDER", "serviceaccount-token")
    monkeypatch.setenv("LIQO_AUTHENTICATION__CLUSTER_LABELS", '{"region": "eu"}')
    monkeypatch.setenv("LIQO_AUTHENTICATION__API_SERVER__ADDRESS", "https://x:6443")
    auth = load_settings(authentication={"tlsCompatibilityMode": True}).section(
        AuthenticationSettings
    )
    assert auth.identity_provider == "serviceaccount-token"
    assert auth.cluster_labels == {"region": "eu"}
    assert auth.api_server.address == "https://x:6443"
    assert auth.tls_compatibility_mode


def test_a_bad_section_in_the_environment_names_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIQO_AUTHENTICATION__CREDENTIAL_LIFETIME", "soon")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith(
        "invalid setting authentication.credentialLifetime "
        "(LIQO_AUTHENTICATION__CREDENTIAL_LIFETIME): 'soon' is not a duration"
    )


def test_a_section_is_validated_once_and_typed() -> None:
    settings = load_settings()
    assert settings.section(AuthenticationSettings) is settings.section(AuthenticationSettings)
    assert settings.section_keys() == []
