"""Component roles come from entry points and share the process scaffolding.

The test-only distribution ``liqo-test-role-widget`` adds role ``widget-agent`` and its
settings section ``widgetAgent`` without touching liqo-core. Installed beside it, ``liqo
widget-agent`` gets what ``liqo controller-manager`` has: settings (file, environment,
flags) with one-line errors, JSON logs, probes, metrics, Lease leader election and a clean
stop on SIGTERM. Everything is observed through the Kubernetes API and HTTP endpoints.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import (
    LIQO,
    RoleProcess,
    install_distribution,
    role_environment,
    wait_for,
)

from liqo_core.testing.clusters import ClusterHandle
from liqo_core.testing.kubectl import get_json

pytestmark = pytest.mark.e2e

DIST = Path(__file__).parents[1] / "fixtures" / "dists" / "liqo-test-role-widget"
LEASE = "widget-agent.liqo.io"


@pytest.fixture(scope="module")
def widget_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the installed ``liqo-test-role-widget`` distribution."""
    return install_distribution(DIST, tmp_path_factory)


def _liqo(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LIQO), *args],
        env=role_environment(site, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class Agents:
    cluster: ClusterHandle
    namespace: str
    site: Path
    tmp: Path
    started: list[RoleProcess] = field(default_factory=list)

    def config(self, **widget: Any) -> Path:
        path = self.tmp / "config.yaml"
        path.write_text(
            yaml.safe_dump({"modules": [], "namespace": self.namespace, "widgetAgent": widget})
        )
        return path

    def start(self, identity: str, config: Path, *extra: str) -> RoleProcess:
        agent = RoleProcess.start(
            "widget-agent",
            self.cluster,
            *extra,
            identity=identity,
            config=config,
            site=self.site,
            log=self.tmp / f"{identity}.log",
        )
        self.started.append(agent)
        return agent

    def get_json(self, *args: str) -> dict[str, Any] | None:
        return get_json(self.cluster, *args, "-n", self.namespace)

    def holder(self) -> str:
        lease = self.get_json("lease", LEASE) or {}
        return str((lease.get("spec") or {}).get("holderIdentity") or "")

    def close(self) -> None:
        for agent in self.started:
            agent.kill()


@pytest.fixture
def agents(
    kube_cluster: ClusterHandle, namespace: str, widget_site: Path, tmp_path: Path
) -> Iterator[Agents]:
    group = Agents(kube_cluster, namespace, widget_site, tmp_path)
    try:
        yield group
    finally:
        group.close()


def test_a_plugin_role_runs_with_the_shared_scaffolding(agents: Agents) -> None:
    config = agents.config(
        greeting="hi there",
        leaderElection={"leaseDuration": 4, "renewDeadline": 3, "retryPeriod": 0.5},
    )
    first = agents.start("agent-a", config, "--colour", "green")
    wait_for("agent-a to lead", lambda: agents.holder() == "agent-a", timeout=60)
    second = agents.start("agent-b", config)

    widget = wait_for("the widget ConfigMap", lambda: agents.get_json("configmap", "widget-agent"))
    assert widget["data"] == {"greeting": "hi there", "colour": "green", "identity": "agent-a"}
    wait_for("agent-a ready", lambda: first.get(first.health_port, "/readyz") == (200, "ok"))
    assert first.get(first.health_port, "/healthz") == (200, "ok")
    assert first.metric("liqo_widget_agent_leader") == 1
    assert first.metric("liqo_widget_agent_leader_acquisitions_total") == 1
    # The standby serves its probes and metrics too, and is ready while it waits.
    wait_for("agent-b ready", lambda: second.get(second.health_port, "/readyz")[0] == 200)
    assert second.metric("liqo_widget_agent_leader") == 0
    assert agents.holder() == "agent-a"

    # SIGTERM: the role stops cleanly, the lease is released, the standby takes over.
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(30) == 0
    wait_for("agent-b to lead", lambda: agents.holder() == "agent-b", timeout=30)
    taken = wait_for(
        "agent-b's widget",
        lambda: (
            (agents.get_json("configmap", "widget-agent") or {}).get("data", {}).get("identity")
            == "agent-b"
        ),
    )
    assert taken
    lines = [json.loads(line) for line in first.log.read_text().splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])

    second.process.send_signal(signal.SIGTERM)
    assert second.process.wait(30) == 0
    wait_for("the widget removed", lambda: agents.get_json("configmap", "widget-agent") is None)


def test_a_plugin_roles_settings_fail_in_one_line_naming_the_field(
    widget_site: Path, tmp_path: Path
) -> None:
    result = _liqo(widget_site, "widget-agent", LIQO_WIDGET_AGENT__PERIOD="never")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [error] = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert error.startswith(
        "Error: invalid setting widgetAgent.period (LIQO_WIDGET_AGENT__PERIOD): "
        "'never' is not a duration"
    )

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"modules": [], "widgetAgent": {"colour": "red"}}))
    result = _liqo(widget_site, "widget-agent", "--config", str(config))
    assert result.returncode == 1
    assert "Error: invalid setting widgetAgent.colour: Extra inputs are not permitted" in (
        result.stderr
    )


def test_an_unknown_role_is_one_line_listing_the_installed_ones(widget_site: Path) -> None:
    result = _liqo(widget_site, "gateway")
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "Error: unknown role 'gateway' "
        "(installed roles: controller-manager, virtual-kubelet, widget-agent)"
    )
    listed = _liqo(widget_site, "--help")
    assert listed.returncode == 0
    assert "controller-manager" in listed.stdout
    assert "widget-agent" in listed.stdout
