"""``EmulatedCluster``: one API emulator subprocess, started and stopped from Python."""

from __future__ import annotations

import base64
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

import yaml


class ClusterStartError(RuntimeError):
    """The emulator process did not become ready."""


class EmulatedCluster:
    """An emulated Kubernetes cluster served by ``python -m liqo_core.sandbox.apiserver``.

    ``start()`` returns once ``/readyz`` answers; ``kubeconfig`` is then an admin
    kubeconfig (client certificate CN=kubernetes-admin, O=system:masters).
    ``exit_with_parent=True`` makes the server stop when the starting process dies (no
    leaked servers after a crash); ``detach=True`` runs it in its own session, out of reach
    of the terminal's Ctrl-C. Without either, stop it with ``stop()`` or SIGTERM to the pid
    in ``state_dir/apiserver.pid``.
    """

    def __init__(
        self,
        name: str,
        state_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        detach: bool = False,
        exit_with_parent: bool = False,
        service_cidr: str | None = None,
        webhook_netns: str | None = None,
    ) -> None:
        self.service_cidr = service_cidr
        self.webhook_netns = webhook_netns
        self.detach = detach
        self.exit_with_parent = exit_with_parent
        self.name = name
        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._server_url = ""

    @property
    def kubeconfig(self) -> Path:
        """Path of the admin kubeconfig (exists once started)."""
        return self.state_dir / "kubeconfig"

    @property
    def server_url(self) -> str:
        """``https://127.0.0.1:<port>`` once started."""
        return self._server_url

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path:
        """Where the server's stdout/stderr go."""
        return self.state_dir / "apiserver.log"

    def start(self, timeout: float = 30.0) -> None:
        """Spawn the server and wait until it answers ``/readyz``."""
        if self.running:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.kubeconfig.exists():
            self.kubeconfig.unlink()
        log = self.log_path.open("ab")
        cmd = [
            sys.executable,
            "-m",
            "liqo_core.sandbox.apiserver",
            "--name",
            self.name,
            "--state-dir",
            str(self.state_dir),
            "--port",
            str(self.port),
            "--host",
            self.host,
        ]
        if self.exit_with_parent:
            cmd.append("--exit-with-parent")
        if self.service_cidr:
            cmd += ["--service-cidr", self.service_cidr]
        if self.webhook_netns:
            cmd += ["--webhook-netns", self.webhook_netns]
        self._proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=self.detach,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self.kubeconfig.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                self.stop()
                raise ClusterStartError(f"cluster {self.name}: no kubeconfig after {timeout}s")
            time.sleep(0.02)
        config = yaml.safe_load(self.kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        self._server_url = cluster["server"]
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
        context = ssl.create_default_context(cadata=ca)
        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(
                    f"{self._server_url}/readyz", context=context, timeout=2
                ):
                    return
            except urllib.error.HTTPError:
                return
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise ClusterStartError(
                        f"cluster {self.name}: /readyz not answering after {timeout}s"
                    ) from None
                time.sleep(0.02)

    def _check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise ClusterStartError(
                f"cluster {self.name}: server exited with {self._proc.returncode}:\n{tail}"
            )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server (SIGKILL after ``timeout``)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def __enter__(self) -> EmulatedCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
