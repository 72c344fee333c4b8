"""Helpers shared by the end-to-end tests (no tests here)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from liqo_core.testing.clusters import ClusterHandle
from liqo_core.testing.waiting import wait_for as kit_wait_for

T = TypeVar("T")


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1
) -> T:
    """``liqo_core.testing.waiting.wait_for`` with the description first, as e2e tests read."""
    return kit_wait_for(probe, timeout=timeout, interval=interval, what=what)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


LIQO = Path(sys.executable).parent / "liqo"


def install_distribution(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the test-only distribution at ``dist``, installed (built from a
    copy: pip builds in place, and the repository stays clean)."""
    source = tmp_path_factory.mktemp(f"{dist.name}-src") / "dist"
    shutil.copytree(dist, source)
    site = tmp_path_factory.mktemp(f"{dist.name}-site")
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--target", str(site), str(source)),
        ],
        check=True,
        timeout=300,
    )
    return site


def role_environment(site: Path, **extra: str) -> dict[str, str]:
    """This process's environment without ``LIQO_`` variables, ``site`` first on
    ``PYTHONPATH`` (test-only distributions installed there), plus ``extra``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIQO_")}
    environment.update(extra)
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(site), environment.get("PYTHONPATH")])
    )
    return environment


@dataclass
class RoleProcess:
    """One ``liqo <role>`` subprocess: its identity, probe and metrics ports, and log."""

    identity: str
    health_port: int
    metrics_port: int
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls,
        role: str,
        cluster: ClusterHandle,
        *extra: str,
        identity: str,
        config: Path,
        site: Path,
        log: Path,
        health_port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> RoleProcess:
        """Start ``liqo <role> --config <config> ... <extra>`` against ``cluster`` as
        ``identity``, on free ports (or ``health_port``), logging to ``log``."""
        health, metrics = health_port or free_port(), free_port()
        command = [
            *(str(LIQO), role, "--config", str(config)),
            *("--kubeconfig", str(cluster.kubeconfig), "--identity", identity),
            *("--health-port", str(health), "--metrics-port", str(metrics)),
            *("--bind-address", "127.0.0.1", *extra),
        ]
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command,
                env=role_environment(site, **(env or {})),
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return cls(identity, health, metrics, process, log)

    def get(self, port: int, path: str) -> tuple[int, str]:
        """GET ``path`` on ``port``: status and body (0 when nothing answers)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            return 0, ""

    def probe(self, path: str) -> int:
        """The status of a health endpoint (``/readyz``, ``/healthz``)."""
        return self.get(self.health_port, path)[0]

    def metric(self, sample: str) -> float | None:
        """The value of one metrics sample (``name{labels}``), if exposed."""
        status, text = self.get(self.metrics_port, "/metrics")
        for line in text.splitlines() if status == 200 else []:
            name, _, value = line.rpartition(" ")
            if name == sample:
                return float(value)
        return None

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: signal.Signals, timeout: float = 30.0) -> int:
        """Send ``sig`` (if still running) and return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.identity} did not exit:\n{self.logs()[-3000:]}") from None

    def kill(self) -> None:
        """Kill it if still running, and reap it."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
