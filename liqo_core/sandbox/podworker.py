"""One pod run as local processes: setup, containers, probes, restarts, stop.

See :mod:`podenv` for the filesystem and environment contract and :mod:`runner` for
which pods are run this way.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liqo_core.kube import Backoff, KubeError
from liqo_core.sandbox import events, mountns, podenv, podstatus
from liqo_core.sandbox.hollow import container_id
from liqo_core.sandbox.netns import NETNS_DIR, NetnsError
from liqo_core.sandbox.probes import run_probe
from liqo_core.sandbox.scope import wants_netns
from liqo_core.sandbox.timeutil import now

if TYPE_CHECKING:
    from liqo_core.sandbox.runner import ProcessRunner

JSON = dict[str, Any]

RESTART_BACKOFF_RESET = 600.0
"""Seconds of running after which a container's restart back-off starts again (kubelet's)."""

log = logging.getLogger(__name__)


@dataclass
class ContainerState:
    """What the runner knows about one container."""

    state: JSON = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    ready: bool = False
    restart_count: int = 0
    last_state: JSON = field(default_factory=dict)
    process: asyncio.subprocess.Process | None = None
    done: bool = False


class PodWorker:
    """Runs one pod until it finishes or is stopped."""

    def __init__(self, runner: ProcessRunner, pod: JSON) -> None:
        self.runner = runner
        self.pod = copy.deepcopy(pod)
        meta = pod["metadata"]
        self.uid: str = meta["uid"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.dir = runner.workdir / "pods" / f"{self.namespace}_{self.name}_{self.uid[:8]}"
        self.stopping = asyncio.Event()
        self.pod_ip: str = runner.node.internal_ip
        self.netns: str | None = None
        self.own_netns = False
        self.start_time = now()
        spec = pod.get("spec", {})
        self.states: dict[str, ContainerState] = {
            c["name"]: ContainerState()
            for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        }
        self._report_lock = asyncio.Lock()
        self._last_report: JSON | None = None
        self.task: asyncio.Task[None] | None = None
        self._api_proxy: asyncio.subprocess.Process | None = None

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start running the pod in the background."""
        self.task = asyncio.create_task(self._run(), name=f"pod {self.namespace}/{self.name}")

    async def _run(self) -> None:
        try:
            volumes, base_env = await self._setup()
            if volumes is None:
                return
            spec = self.pod.get("spec", {})
            for container in spec.get("initContainers") or []:
                code = await self._run_container(container, volumes, base_env, init=True)
                if code != 0 or self.stopping.is_set():
                    await self.report()
                    return
            await asyncio.gather(
                *(
                    self._run_container(c, volumes, base_env, init=False)
                    for c in spec.get("containers") or []
                )
            )
            await self.report()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("pod %s/%s failed in the runner", self.namespace, self.name)

    async def _setup(self) -> tuple[dict[str, Path] | None, dict[str, str]]:
        """Address, network, volumes, token; retried while configuration is missing."""
        node = self.runner.node
        if self.runner.network is not None and not wants_netns(self.pod, default=True):
            self.netns = node.netns or None  # hostNetwork: the node's namespace
        elif self.runner.network is not None:
            self.pod_ip = self.runner.ips.allocate(self.uid)
            while not self.stopping.is_set():
                try:
                    self.netns = await self.runner.network.add_pod(self.uid, self.pod_ip, node)
                    self.own_netns = True
                    await self._start_api_proxy()
                    break
                except NetnsError as err:
                    await self._event(
                        "Warning", "FailedCreatePodSandBox", f"network namespace: {err}"
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), 5.0)
        self.pod.setdefault("status", {})["podIP"] = self.pod_ip
        self.pod["status"]["hostIP"] = self.runner.node.internal_ip
        while not self.stopping.is_set():
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
                volumes = await podenv.materialise_volumes(
                    self.pod, self.dir, self.runner.get_object
                )
                return volumes, await self._base_env()
            except podenv.ConfigError as err:
                for state in self.states.values():
                    state.state = {
                        "waiting": {"reason": "CreateContainerConfigError", "message": str(err)}
                    }
                await self.report()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), 2.0)
        return None, {}

    async def _start_api_proxy(self) -> None:
        """Serve every sandbox API server at ``127.0.0.1:<port>`` inside the pod's namespace."""
        endpoint = self.runner.endpoint
        if endpoint is None or not endpoint.forwards or self.netns is None:
            return
        forwards = [f"--forward={port}={path}" for port, path in endpoint.forwards]
        process = await asyncio.create_subprocess_exec(
            "ip",
            "netns",
            "exec",
            self.netns,
            sys.executable,
            "-m",
            "liqo_core.sandbox.apiproxy",
            *forwards,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), 15)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            _signal_group(process, signal.SIGKILL)
            await process.wait()
            raise NetnsError(f"API proxy in {self.netns} did not start")
        self._api_proxy = process
        (self.dir / "api-proxy.pid").parent.mkdir(parents=True, exist_ok=True)
        (self.dir / "api-proxy.pid").write_text(str(process.pid))

    async def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBECONFIG", "LIQO_TEST"))}
        env["PATH"] = (
            os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "/usr/bin:/bin")
        )
        env["HOSTNAME"] = self.name
        env["PYTHONUNBUFFERED"] = "1"
        endpoint = self.runner.endpoint
        if endpoint is not None:
            env["KUBERNETES_SERVICE_HOST"] = "127.0.0.1" if self._api_proxy else endpoint.host
            env["KUBERNETES_SERVICE_PORT"] = str(endpoint.port)
            env["KUBERNETES_SERVICE_PORT_HTTPS"] = str(endpoint.port)
        return env

    async def _mount_spec(
        self, container: JSON, volumes: dict[str, Path], env: dict[str, str]
    ) -> mountns.MountSpec:
        """The container's mount namespace: volumes and service account at their paths."""
        directory = self.dir / "containers" / container["name"]
        (directory / "staging").mkdir(parents=True, exist_ok=True)
        mounts = podenv.volume_mounts(self.pod, container, volumes)
        spec = self.pod.get("spec", {})
        endpoint = self.runner.endpoint
        if endpoint is not None and spec.get("automountServiceAccountToken", True):
            token = await self.runner.request_token(self.pod)
            if token is not None and all(m.path != podenv.SA_PATH for m in mounts):
                mounts.append(
                    podenv.write_service_account(
                        directory / "serviceaccount", token, endpoint.ca_pem, self.namespace
                    )
                )
        network = self.runner.network
        if network is not None and all(m.path != podenv.RESOLV_CONF for m in mounts):
            text = podenv.resolv_conf(self.pod, network.cluster_dns, network.cluster_domain)
            if text is not None:
                resolv = directory / "resolv.conf"
                resolv.write_text(text)
                mounts.append(mountns.Mount(podenv.RESOLV_CONF, str(resolv), read_only=True))
        return mountns.MountSpec(
            mounts=tuple(mounts),
            keep=mountns.image_paths(env),
            cwd=str(directory),
            staging=str(directory / "staging"),
            working_dir=container.get("workingDir") or None,
            netns=str(NETNS_DIR / self.netns) if self.netns else None,
        )

    async def _spawn(
        self, container: JSON, volumes: dict[str, Path], base_env: dict[str, str], restart: int
    ) -> asyncio.subprocess.Process:
        env = dict(base_env)
        own = await podenv.container_env(self.pod, container, self.runner.get_object)
        env.update(own)
        argv = [
            podenv.expand(str(part), own)
            for part in [*(container.get("command") or []), *(container.get("args") or [])]
        ]
        if not container.get("command"):
            raise podenv.ConfigError(
                "the sandbox process runner needs an explicit container command "
                "(images are not run)"
            )
        spec = await self._mount_spec(container, volumes, env)
        log_path = self.runner.log_path(self.namespace, self.name, container["name"])
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log_file:
            log_file.write(f"--- {now()} start (restart {restart}): {argv}\n".encode())
            log_file.flush()
            process = await asyncio.create_subprocess_exec(
                *mountns.command(spec, argv),
                cwd=spec.cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        (self.dir / f"{container['name']}.pid").write_text(str(process.pid))
        return process

    async def _run_container(
        self, container: JSON, volumes: dict[str, Path], base_env: dict[str, str], init: bool
    ) -> int:
        name = container["name"]
        state = self.states[name]
        policy = self.pod.get("spec", {}).get("restartPolicy", "Always")
        backoff = Backoff(initial=self.runner.backoff_initial, cap=self.runner.backoff_cap)
        code = 0
        while not self.stopping.is_set():
            started_at = now()
            began = time.monotonic()
            try:
                process = await self._spawn(container, volumes, base_env, state.restart_count)
            except (OSError, podenv.ConfigError) as err:
                reason = (
                    "CreateContainerConfigError"
                    if isinstance(err, podenv.ConfigError)
                    else "RunContainerError"
                )
                state.state = {"waiting": {"reason": reason, "message": str(err)}}
                await self.report()
                code = 128
            else:
                state.process = process
                state.state = podstatus.running_state(started_at)
                await self._event("Normal", "Started", f"Started container {name}")
                state.ready = not init and "readinessProbe" not in container
                await self.report()
                probes = [
                    asyncio.create_task(self._probe_loop(container, state, kind, env=base_env))
                    for kind in ("readinessProbe", "livenessProbe")
                    if not init and container.get(kind)
                ]
                returned = await process.wait()
                code = returned if returned >= 0 else 128 - returned
                for task in probes:
                    task.cancel()
                state.process = None
                state.ready = False
                (self.dir / f"{name}.pid").unlink(missing_ok=True)
                state.state = podstatus.terminated_state(code, started_at)
                if self.stopping.is_set():
                    break
            if init:
                restart = policy != "Never" and code != 0
            else:
                restart = policy == "Always" or (policy == "OnFailure" and code != 0)
            if not restart:
                state.done = True
                await self.report()
                return code
            if "terminated" in state.state:
                state.last_state = state.state
            state.restart_count += 1
            if time.monotonic() - began >= RESTART_BACKOFF_RESET:
                backoff.reset()  # it ran long enough: as the kubelet, start again from initial
            delay = backoff.next_delay()
            state.state = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {delay:g}s restarting failed container={name} "
                    f"pod={self.name}_{self.namespace}({self.uid})",
                }
            }
            await self.report()
            await self._event("Warning", "BackOff", f"Back-off restarting failed container {name}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
        state.done = True
        return code

    async def _probe_loop(
        self, container: JSON, state: ContainerState, kind: str, env: dict[str, str]
    ) -> None:
        probe = container[kind]
        period = float(probe.get("periodSeconds", 10))
        success_needed = int(probe.get("successThreshold", 1))
        failures_allowed = int(probe.get("failureThreshold", 3))
        successes = failures = 0
        await asyncio.sleep(float(probe.get("initialDelaySeconds", 0)))
        host = self.pod_ip
        while state.process is not None:
            process = state.process
            ok = await run_probe(
                probe,
                container=container,
                host=host,
                netns=self.netns,
                env=env,
                cwd=str(self.dir),
                pid=process.pid if process is not None else None,
            )
            successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
            if kind == "readinessProbe":
                if ok and successes >= success_needed and not state.ready:
                    state.ready = True
                    await self.report()
                elif not ok and failures >= failures_allowed and state.ready:
                    state.ready = False
                    await self.report()
            elif failures >= failures_allowed and state.process is not None:
                log.info("liveness probe of %s/%s failed: restarting", self.name, container["name"])
                _signal_group(state.process, signal.SIGTERM)
                return
            await asyncio.sleep(period)

    async def _event(self, kind: str, reason: str, message: str) -> None:
        await events.pod_event(
            self.runner.kube,
            self.pod,
            kind=kind,
            reason=reason,
            message=message,
            component="kubelet",
            host=self.runner.node.name,
        )

    async def stop(self, grace: float) -> None:
        """SIGTERM every container, SIGKILL what is left after ``grace`` seconds."""
        self.stopping.set()
        processes = [s.process for s in self.states.values() if s.process is not None]
        for process in processes:
            _signal_group(process, signal.SIGTERM)
        if processes:
            waits = asyncio.gather(*(p.wait() for p in processes))
            try:
                await asyncio.wait_for(waits, grace)
            except TimeoutError:
                for process in processes:
                    _signal_group(process, signal.SIGKILL)
                await asyncio.gather(*(p.wait() for p in processes))
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def cleanup(self) -> None:
        """Release the address and network namespace and remove the pod directory."""
        if self._api_proxy is not None:
            _signal_group(self._api_proxy, signal.SIGKILL)
            await self._api_proxy.wait()
            self._api_proxy = None
        self.runner.ips.release(self.uid)
        if self.own_netns and self.runner.network is not None:
            await self.runner.network.remove_pod(self.uid)
            self.own_netns = False
        await asyncio.to_thread(shutil.rmtree, self.dir, True)

    # ---- status ----------------------------------------------------------------------

    def status(self) -> JSON:
        """The pod status as the runner sees it."""
        spec = self.pod.get("spec", {})
        uid = self.uid

        def entries(containers: list[JSON]) -> list[JSON]:
            return [
                podstatus.container_status(
                    c,
                    state=self.states[c["name"]].state,
                    ready=self.states[c["name"]].ready,
                    restart_count=self.states[c["name"]].restart_count,
                    container_id=container_id(uid, c["name"], self.states[c["name"]].restart_count),
                    last_state=self.states[c["name"]].last_state,
                )
                for c in containers
            ]

        inits = spec.get("initContainers") or []
        mains = spec.get("containers") or []
        main_states = [self.states[c["name"]] for c in mains]
        phase, initialized = podstatus.pod_phase(
            [self.states[c["name"]] for c in inits], main_states
        )
        ready = phase == "Running" and all(s.ready for s in main_states)
        current = self.pod.get("status") or {}
        status: JSON = {
            "phase": phase,
            "conditions": podstatus.conditions(
                True, initialized, ready, current.get("conditions") or []
            ),
            "startTime": self.start_time,
            "containerStatuses": entries(mains),
            "qosClass": podstatus.qos_class(self.pod),
            **podstatus.host_fields(self.pod_ip, self.runner.node.internal_ip),
        }
        if inits:
            status["initContainerStatuses"] = entries(inits)
        return status

    async def report(self) -> None:
        """Patch the pod status if it changed."""
        async with self._report_lock:
            status = self.status()
            if status == self._last_report:
                return
            path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/status"
            try:
                await self.runner.kube.merge_patch(path, {"status": status})
            except KubeError as err:
                if err.status != 404:
                    log.warning("status of %s/%s: %s", self.namespace, self.name, err)
                return
            except Exception as err:
                log.warning("status of %s/%s: %r", self.namespace, self.name, err)
                return
            self._last_report = status
            self.pod["status"] = status


def _signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
