"""``liqoctl sandbox up|status|down`` in a subprocess, checked with kubectl and the host."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from liqo_core.sandbox import Sandbox
from liqo_core.sandbox.apiproxy import socket_path
from liqo_core.sandbox.netns import list_netns
from liqo_core.sandbox.sandbox import pid_alive
from liqo_core.testing.clusters import ClusterHandle
from liqo_core.testing.kubectl import apply, get_json, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox_local]


def liqoctl(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from liqo_core.cli.app import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)


def test_up_status_down_lifecycle(tmp_path: Path) -> None:
    directory = tmp_path / "sb"
    up = liqoctl("sandbox", "up", "--clusters", "1", "--no-liqo", "--dir", str(directory))
    assert up.returncode == 0, up.stderr
    kubeconfig = directory / "cluster-1" / "kubeconfig"
    assert f"export KUBECONFIG={kubeconfig}" in up.stdout
    try:
        state = json.loads((directory / "sandbox.json").read_text())
        assert state["phase"] == "Ready"
        cluster = ClusterHandle("cluster-1", kubeconfig)
        nodes = get_json(cluster, "nodes")["items"]
        assert sorted(n["metadata"]["name"] for n in nodes) == [
            "cluster-1-control-plane",
            "cluster-1-worker",
        ]

        status = liqoctl("sandbox", "status", "--dir", str(directory), "-o", "json")
        assert status.returncode == 0, status.stderr
        (entry,) = json.loads(status.stdout)
        assert entry["reachable"] is True
        assert entry["kubeconfig"] == str(kubeconfig)
        assert (entry["podCIDR"], entry["serviceCIDR"]) == ("10.101.0.0/16", "10.201.0.0/16")
        assert (entry["liqoInstalled"], entry["controllerManagerReady"]) == (False, False)
        assert get_json(cluster, "namespace", "liqo") is None

        again = liqoctl("sandbox", "up", "--dir", str(directory))
        assert again.returncode == 1
        assert again.stderr.count("\n") == 1
        assert "already running" in again.stderr and "liqoctl sandbox down" in again.stderr

        sleeper = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "sleeper",
                "namespace": "default",
                "annotations": {
                    "sandbox.liqo.io/runner": "process",
                    "sandbox.liqo.io/netns": "true",
                },
            },
            "spec": {"containers": [{"name": "c", "image": "x", "command": ["sleep", "600"]}]},
        }
        apply(cluster, sleeper)
        wait_for(
            lambda: get_json(cluster, "pod", "sleeper")["status"].get("phase") == "Running",
            timeout=60,
            what="sleeper running",
        )
        # Its own, beside one per node (and the cluster DNS's).
        uid = get_json(cluster, "pod", "sleeper")["metadata"]["uid"]
        nodes = {n["netns"] for n in state["clusters"][0]["nodes"]}
        assert nodes | {f"{state['netnsPrefix']}-{uid}"} <= set(list_netns(state["netnsPrefix"]))
        pid_file = next(directory.glob("cluster-1/pods/default_sleeper_*/c.pid"))
        sleeper_pid = int(pid_file.read_text())
        assert pid_alive(sleeper_pid)
    finally:
        down = liqoctl("sandbox", "down", "--dir", str(directory))
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
    assert not pid_alive(state["pid"])
    assert not pid_alive(state["clusters"][0]["emulatorPid"])
    assert not pid_alive(sleeper_pid)
    assert list_netns(state["netnsPrefix"]) == []
    assert not Path(socket_path(state["netnsPrefix"], "cluster-1")).exists()

    after = liqoctl("sandbox", "status", "--dir", str(directory))
    assert after.returncode == 1
    assert after.stderr.startswith("Error: no sandbox is running") and after.stderr.count("\n") == 1


def test_down_without_a_sandbox_is_a_one_line_error(tmp_path: Path) -> None:
    result = liqoctl("sandbox", "down", "--dir", str(tmp_path / "none"))
    assert result.returncode == 1
    assert result.stderr == f"Error: no sandbox in {tmp_path / 'none'}\n"
    assert not os.path.exists(tmp_path / "none")


def test_down_cleans_up_after_a_crashed_supervisor(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "crash")
    state = sandbox.up(clusters=1)
    cluster = ClusterHandle("cluster-1", Path(state.clusters[0].kubeconfig))
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "orphan",
            "namespace": "default",
            "annotations": {"sandbox.liqo.io/runner": "process", "sandbox.liqo.io/netns": "true"},
        },
        "spec": {"containers": [{"name": "c", "image": "x", "command": ["sleep", "600"]}]},
    }
    try:
        apply(cluster, pod)
        pid_file = wait_for(
            lambda: next(sandbox.directory.glob("cluster-1/pods/default_orphan_*/c.pid"), None),
            timeout=60,
            what="process started",
        )
        orphan = int(pid_file.read_text())
        assert state.pid is not None
        os.kill(state.pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(state.pid), what="supervisor gone")
        assert pid_alive(orphan) and pid_alive(state.clusters[0].emulator_pid)
        assert not sandbox.running()
    finally:
        assert sandbox.down() is False
    assert not pid_alive(orphan)
    assert not pid_alive(state.clusters[0].emulator_pid)
    assert list_netns(state.netns_prefix) == []
    assert not Path(socket_path(state.netns_prefix, "cluster-1")).exists()
    final = sandbox.state
    assert final is not None and final.phase == "Stopped"
