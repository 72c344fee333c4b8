"""One rendering of Liqo's version everywhere; the sandbox's Kubernetes version agrees."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from liqo_core.sandbox.apiserver.version import KUBERNETES_VERSION, VERSION_INFO
from liqo_core.sandbox.nodes import NodeSpec, node_status
from liqo_core.version import liqo_version, package_version, semver

CHART = Path(__file__).resolve().parents[3] / "charts" / "liqo" / "Chart.yaml"


@pytest.mark.parametrize(
    ("pep440", "expected"),
    [
        ("1.0.0.dev0", "1.0.0-dev"),
        ("1.0.0.dev3", "1.0.0-dev.3"),
        ("1.2.0rc1", "1.2.0-rc.1"),
        ("1.2.0a2", "1.2.0-alpha.2"),
        ("1.2.0b1.dev0", "1.2.0-beta.1.dev"),
        ("1.0.0", "1.0.0"),
        ("1.1", "1.1.0"),
        ("1.0.0.post1", "1.0.0+post.1"),
        ("1.0.0+local.7", "1.0.0+local.7"),
        ("unknown", "unknown"),
    ],
)
def test_semver_rendering_of_pep440_versions(pep440: str, expected: str) -> None:
    assert semver(pep440) == expected


def test_liqo_version_is_the_charts_app_version_and_version() -> None:
    chart = yaml.safe_load(CHART.read_text())
    assert package_version() == "1.0.0.dev0"  # the distribution keeps PEP 440
    assert liqo_version() == chart["appVersion"] == chart["version"]


def test_liqoctl_version_and_component_metrics_show_the_same_rendering() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from liqo_core._runtime.component import ProcessMetrics
    from liqo_core.cli.commands.version import client_version

    assert client_version() == liqo_version() == "1.0.0-dev"
    registry = CollectorRegistry()
    ProcessMetrics("probe", registry)
    exposed = generate_latest(registry).decode()
    assert (
        'liqo_probe_build_info{python_version="' in exposed or "liqo_probe_build_info{" in exposed
    )
    build = next(line for line in exposed.splitlines() if line.startswith("liqo_probe_build_info{"))
    assert f'version="{liqo_version()}"' in build


def test_sandbox_kubelets_run_the_served_kubernetes_version() -> None:
    status = node_status(NodeSpec(name="n", pod_cidr="10.1.0.0/24", internal_ip="127.1.0.2"))
    assert status["nodeInfo"]["kubeletVersion"] == VERSION_INFO["gitVersion"]
    assert VERSION_INFO["gitVersion"] == KUBERNETES_VERSION
    assert f"v{VERSION_INFO['major']}.{VERSION_INFO['minor']}.0" == KUBERNETES_VERSION
