"""``liqo controller-manager`` fails fast, with one line on stderr, on problems a user can fix."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from liqo_core.cli.component import JsonLogFormatter

LIQO = Path(sys.executable).parent / "liqo"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIQO_")}
    return subprocess.run(
        [str(LIQO), "controller-manager", *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("Error: ")]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kubeconfig(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "do-not-log-me"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def test_unknown_module_is_one_line_naming_it():
    result = _run(env={"LIQO_MODULES": "nope"})
    assert result.returncode == 1
    (line,) = _error_lines(result)
    assert "module 'nope' is not installed" in line


def test_invalid_setting_names_the_field(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("modules: []\ncontrollerManager:\n  healthPort: 70000\n")
    result = _run("--config", str(config))
    assert result.returncode == 1
    (line,) = _error_lines(result)
    assert "controllerManager.healthPort" in line


def test_missing_kubeconfig_is_one_line(tmp_path):
    result = _run("--kubeconfig", str(tmp_path / "absent"), env={"LIQO_MODULES": "[]"})
    assert result.returncode == 1
    (line,) = _error_lines(result)
    assert "does not exist" in line


def test_unreachable_cluster_is_one_line_without_secrets(tmp_path):
    server = f"http://127.0.0.1:{_closed_port()}"
    kubeconfig = _kubeconfig(tmp_path, server)
    result = _run("--kubeconfig", str(kubeconfig), env={"LIQO_MODULES": "[]"})
    assert result.returncode == 1
    (line,) = _error_lines(result)
    assert f"cannot reach the cluster at {server}" in line
    assert "do-not-log-me" not in result.stderr + result.stdout


def test_unknown_log_level_is_rejected():
    result = _run("--log-level", "loud", env={"LIQO_MODULES": "[]"})
    assert result.returncode == 1
    (line,) = _error_lines(result)
    assert "log level" in line


def test_inconsistent_leader_election_timings_are_one_line(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        "modules: []\ncontrollerManager:\n  leaderElection: {leaseDuration: 5, renewDeadline: 10}\n"
    )
    result = _run("--config", str(config), "--kubeconfig", str(_kubeconfig(tmp_path, "http://x")))
    assert result.returncode == 1
    (line,) = _error_lines(result)
    assert "controllerManager.leaderElection" in line
    assert "renew deadline" in line


def test_logs_are_json_lines_naming_the_object():
    record = logging.LogRecord(
        "kopf.objects", logging.INFO, __file__, 1, "handled %s", ("x",), None
    )
    record.k8s_ref = {"kind": "ConfigMap", "namespace": "liqo", "name": "x", "uid": "u"}
    line = JsonLogFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "info"
    assert entry["logger"] == "kopf.objects"
    assert entry["message"] == "handled x"
    assert entry["object"] == {"kind": "ConfigMap", "namespace": "liqo", "name": "x"}
