"""The :class:`Sandbox`: N emulated clusters with nodes, controllers, scheduler and kubelets,
owned by a detached supervisor process and described by ``<dir>/sandbox.json``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liqo_core.errors import LiqoError
from liqo_core.sandbox import apiproxy, liqo, netns, topology
from liqo_core.sandbox.state import STATE_FILE, ClusterInfo, SandboxState

DEFAULT_DIR = ".sandbox"
SUPERVISOR_LOG = "supervisor.log"


class SandboxError(LiqoError):
    """The sandbox cannot be started, found or stopped (one-line message)."""


class AlreadyRunningError(SandboxError):
    """A sandbox already runs in the directory."""


@dataclass(frozen=True)
class ClusterStatus:
    """What ``status`` reports for one cluster."""

    name: str
    kubeconfig: str
    server: str
    reachable: bool
    detail: str
    liqo_installed: bool = False
    """Helm release ``liqo`` is deployed in namespace ``liqo``."""
    controller_manager_ready: bool = False
    controller_manager: str = ""
    """The controller-manager Deployment: ``1/1 ready``, ``0/1 ready (CrashLoopBackOff)``..."""


def pid_alive(pid: int | None) -> bool:
    """Whether a process with ``pid`` exists and is not a zombie."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def _read(call: Callable[..., Any], *args: str, **kwargs: str) -> dict[str, Any] | None:
    """One typed-client call, decoded as plain JSON (None on 404)."""
    from kubernetes.client.exceptions import ApiException

    try:
        response = call(*args, **kwargs, _preload_content=False, _request_timeout=3)
    except ApiException as err:
        if err.status == 404:
            return None
        raise
    data: dict[str, Any] = json.loads(response.data)
    return data


def _liqo_status(api: Any) -> tuple[bool, bool, str]:
    """Whether Helm release ``liqo`` is deployed, whether the controller-manager is ready,
    and how the controller-manager is doing."""
    from kubernetes import client

    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    releases = _read(
        core.list_namespaced_secret,
        liqo.NAMESPACE,
        label_selector=f"owner=helm,name={liqo.RELEASE}",
    )
    installed = any(
        (item.get("metadata", {}).get("labels") or {}).get("status") == "deployed"
        for item in (releases or {}).get("items") or []
    )
    deployment = _read(apps.read_namespaced_deployment, liqo.CONTROLLER_MANAGER, liqo.NAMESPACE)
    pods: list[dict[str, Any]] = []
    if deployment is not None:
        pods = (_read(core.list_namespaced_pod, liqo.NAMESPACE) or {}).get("items") or []
    ready, detail = liqo.controller_manager_state(deployment, pods)
    return installed, ready, detail


class Sandbox:
    """A local multi-cluster playground living in ``directory`` (default ``.sandbox``)."""

    def __init__(self, directory: str | os.PathLike[str] = DEFAULT_DIR) -> None:
        self.directory = Path(directory).resolve()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def state(self) -> SandboxState | None:
        """The current contents of sandbox.json."""
        return SandboxState.load(self.directory)

    @property
    def clusters(self) -> list[ClusterInfo]:
        """The clusters (name, clusterID, CIDRs, kubeconfig path, nodes)."""
        state = self.state
        return state.clusters if state else []

    def cluster(self, name: str) -> ClusterInfo:
        """One cluster by name."""
        for info in self.clusters:
            if info.name == name:
                return info
        raise SandboxError(f"no cluster {name!r} in the sandbox at {self.directory}")

    def running(self) -> bool:
        """A supervisor is alive for this directory."""
        state = self.state
        return state is not None and state.phase in ("Starting", "Ready") and pid_alive(state.pid)

    def up(
        self,
        clusters: int = 2,
        *,
        workers: int = 1,
        timeout: float = 180.0,
        progress: Callable[[str], None] | None = None,
        chart: str | os.PathLike[str] | None = None,
        mtu: int = topology.DEFAULT_MTU,
        network_hollow_pods: bool = False,
        pod_networks: bool = True,
    ) -> SandboxState:
        """Start the supervisor and wait until every cluster is ready.

        With ``chart`` (normally :func:`liqo_core.sandbox.liqo.default_chart`), Liqo
        is installed from it in every cluster and ready before this returns. As root, nodes
        and pods get real networks (:mod:`topology`): ``mtu`` is the nodes', and
        ``network_hollow_pods`` gives every hollow pod one; ``pod_networks=False`` turns
        them off.
        """
        if clusters < 1:
            raise SandboxError("--clusters must be at least 1")
        chart_dir = Path(chart).resolve() if chart is not None else None
        if chart_dir is not None and not liqo.is_chart(chart_dir):
            raise SandboxError(
                f"no Liqo chart at {chart_dir} (no Chart.yaml): "
                "pass --chart PATH, or --no-liqo to start the clusters without Liqo"
            )
        state = self.state
        if self.running() and state is not None:
            raise AlreadyRunningError(
                f"a sandbox is already running in {self.directory} (pid {state.pid}); "
                f"stop it with: liqoctl sandbox down --dir {self.directory}"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / STATE_FILE).unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "liqo_core.sandbox.supervisor",
            "--dir",
            str(self.directory),
            "--clusters",
            str(clusters),
            "--workers",
            str(workers),
            *(["--chart", str(chart_dir)] if chart_dir is not None else []),
            "--mtu",
            str(mtu),
            *(["--network-hollow-pods"] if network_hollow_pods else []),
            *([] if pod_networks else ["--no-pod-networks"]),
        ]
        with (self.directory / SUPERVISOR_LOG).open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.directory,
            )
        last = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state
            if state is not None and state.message != last and progress is not None:
                last = state.message
                progress(last)
            if state is not None and state.phase == "Ready":
                return state
            if (state is not None and state.phase == "Failed") or self._process.poll() is not None:
                self._wait_exit(30)
                reason = state.message if state is not None else "no state written"
                raise SandboxError(
                    f"the sandbox failed to start: {reason} (see {self.directory / SUPERVISOR_LOG})"
                )
            time.sleep(0.1)
        self.down()
        raise SandboxError(
            f"the sandbox was not ready within {timeout:g}s (see {self.directory / SUPERVISOR_LOG})"
        )

    def _wait_exit(self, timeout: float) -> None:
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout)

    def status(self) -> list[ClusterStatus]:
        """Each cluster with its kubeconfig and whether its API server answers."""
        if not self.running():
            raise SandboxError(
                f"no sandbox is running in {self.directory}; start one with: "
                f"liqoctl sandbox up --dir {self.directory}"
            )
        return [self._probe(info) for info in self.clusters]

    @staticmethod
    def _probe(info: ClusterInfo) -> ClusterStatus:
        from kubernetes import client, config

        try:
            api: Any = config.new_client_from_config(config_file=info.kubeconfig)  # type: ignore[no-untyped-call]
            try:
                version = _read(client.VersionApi(api).get_code) or {}
                nodes = (_read(client.CoreV1Api(api).list_node) or {}).get("items") or []
                installed, ready_cm, cm_detail = _liqo_status(api)
            finally:
                api.close()
        except Exception as err:
            return ClusterStatus(
                info.name, info.kubeconfig, info.server, False, " ".join(str(err).split())[:120]
            )
        ready = 0
        for node in nodes:
            for cond in (node.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "Ready" and cond.get("status") == "True":
                    ready += 1
        detail = f"{version.get('gitVersion', '?')}, {ready}/{len(nodes)} nodes ready"
        return ClusterStatus(
            info.name,
            info.kubeconfig,
            info.server,
            True,
            detail,
            liqo_installed=installed,
            controller_manager_ready=ready_cm,
            controller_manager=cm_detail,
        )

    def down(self, timeout: float = 60.0) -> bool:
        """Stop the supervisor (and so everything); returns False if nothing was running.

        Whatever a crashed supervisor left behind (emulators, pod processes, network
        namespaces) is cleaned up as well.
        """
        state = self.state
        if state is None:
            return False
        was_running = pid_alive(state.pid)
        if was_running and state.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(state.pid, signal.SIGTERM)
            if not _wait_until(lambda: not pid_alive(state.pid), timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(state.pid, signal.SIGKILL)
        self._wait_exit(timeout)
        self._sweep(state)
        return was_running

    def _sweep(self, state: SandboxState) -> None:
        killed: list[int] = []
        for info in state.clusters:
            if info.emulator_pid and pid_alive(info.emulator_pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(info.emulator_pid, signal.SIGKILL)
                    killed.append(info.emulator_pid)
        for pid_file in self.directory.glob("*/pods/*/*.pid"):
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                pid = int(pid_file.read_text())
                os.killpg(pid, signal.SIGKILL)
                killed.append(pid)
            pid_file.unlink(missing_ok=True)
        _wait_until(lambda: not any(pid_alive(pid) for pid in killed), 10.0)
        prefix = state.netns_prefix or netns.sandbox_prefix(self.directory)
        for info in state.clusters:
            Path(apiproxy.socket_path(prefix, info.name)).unlink(missing_ok=True)
        topology.sweep(prefix)
        fresh = self.state
        if fresh is not None and fresh.phase != "Stopped":
            fresh.phase, fresh.pid, fresh.message = "Stopped", None, "stopped"
            fresh.save()
