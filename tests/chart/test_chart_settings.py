"""The settings file the chart renders is one the controller-manager accepts, as rendered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from liqo_auth.settings import AuthenticationSettings

from liqo_core.settings import load_settings

from .conftest import NAMESPACE, RenderFn

VALUES: list[dict[str, Any]] = [
    {},
    {"discovery": {"config": {"clusterID": "cluster-a"}}, "controllerManager": {"replicas": 2}},
    {"networking": {"enabled": False}},
    {"authentication": {"enabled": False}, "offloading": {"enabled": False}},
    {
        "networking": {"enabled": False},
        "authentication": {"enabled": False},
        "offloading": {"enabled": False},
    },
    {"networking": {"transport": "ipsec", "gatewayTemplates": {"ipsec": {"ikeVersion": 2}}}},
    {"networking": {"gatewayTemplates": {"wireguard": {"implementation": "userspace"}}}},
    {
        "authentication": {"tlsCompatibilityMode": True, "defaultResourceSliceClassEnabled": False},
        "offloading": {"defaultNodeResources": {"cpu": 8, "memory": "16Gi"}},
    },
]


@pytest.mark.parametrize("values", VALUES)
def test_rendered_settings_load(render: RenderFn, tmp_path: Path, values: dict[str, Any]) -> None:
    rendered = render(values)
    config = tmp_path / "config.yaml"
    config.write_text(rendered.settings_text())

    settings = load_settings(config)

    expected = rendered.settings()
    assert settings.cluster_id == rendered.cluster_id()
    assert settings.namespace == NAMESPACE
    assert settings.modules == expected["modules"]
    leader_election = expected["controllerManager"]["leaderElection"]
    assert settings.controller_manager.leader_election.enabled is leader_election["enabled"]
    assert settings.controller_manager.leader_election.lease_name == leader_election["leaseName"]
    assert settings.controller_manager.health_port == 8081
    assert settings.controller_manager.metrics_port == 8082
    if "networking" in expected:
        networking = expected["networking"]
        assert settings.networking.transport == networking["transport"]
        assert settings.networking.transport_options(networking["transport"]) == (
            networking.get("transports", {}).get(networking["transport"], {})
        )
    if "authentication" in expected:
        auth = expected["authentication"]
        section = settings.section(AuthenticationSettings)
        assert section.tls_compatibility_mode is auth["tlsCompatibilityMode"]
        assert (
            section.default_resource_slice_class_enabled
            is (auth["defaultResourceSliceClassEnabled"])
        )
        assert section.default_node_resources == auth["defaultNodeResources"]
