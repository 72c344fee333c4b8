"""Process runner: plays kubelet for Liqo's own component pods by running their
containers' commands as local processes (see :mod:`scope` for which pods, :mod:`podenv`
for the filesystem and environment contract).

With pod networks (root), a pod runs in its own network namespace with an IP from the
node's podCIDR (:mod:`cni`), unless it is ``hostNetwork`` or annotated
``sandbox.liqo.io/netns: "false"``: then it runs in its node's namespace and reports the
node's InternalIP. Without pod networks, pods run in the host's network namespace and
report their node's InternalIP (a loopback address), like ``hostNetwork`` pods. Output goes to
``<sandbox>/<cluster>/logs/<namespace>_<pod>_<container>.log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liqo_core.kube import Informer, Kube, KubeError, object_key
from liqo_core.sandbox.cni import PodNetwork
from liqo_core.sandbox.controllerruntime import run_when_synced, work_queue
from liqo_core.sandbox.ipam import PodIPAllocator
from liqo_core.sandbox.nodes import NodeSpec
from liqo_core.sandbox.podworker import PodWorker
from liqo_core.sandbox.scope import runs_as_process

JSON = dict[str, Any]
log = logging.getLogger(__name__)

_PATHS = {"ConfigMap": "configmaps", "Secret": "secrets"}


@dataclass(frozen=True)
class ApiEndpoint:
    """Where in-cluster clients find the API server (``KUBERNETES_SERVICE_HOST/PORT``)."""

    host: str
    port: int
    ca_pem: bytes
    forwards: tuple[tuple[int, str], ...] = ()
    """(port, Unix socket) of every sandbox cluster's API server: pods in their own network
    namespace reach each at ``127.0.0.1:<port>``, as host-network pods do."""


class ProcessRunner:
    """Runs the process-runner pods bound to one physical node."""

    def __init__(
        self,
        kube: Kube,
        node: NodeSpec,
        pods: Informer,
        *,
        workdir: Path,
        ips: PodIPAllocator,
        endpoint: ApiEndpoint | None = None,
        network: PodNetwork | None = None,
        backoff_initial: float = 1.0,
        backoff_cap: float = 30.0,
    ) -> None:
        self.kube = kube
        self.node = node
        self.pods = pods
        self.workdir = workdir
        self.ips = ips
        self.endpoint = endpoint
        self.network = network
        self.backoff_initial = backoff_initial
        self.backoff_cap = backoff_cap
        self.queue = work_queue()
        self.workers: dict[str, PodWorker] = {}
        self._deleting: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        pods.add_handler(self._on_pod)

    def owns(self, pod: JSON) -> bool:
        """Bound to this node and in the process runner's scope."""
        return pod.get("spec", {}).get("nodeName") == self.node.name and runs_as_process(pod)

    def _on_pod(self, kind: str, pod: JSON) -> None:
        key = object_key(pod)
        if key in self.workers or (kind != "DELETED" and self.owns(pod)):
            self.queue.add(key)

    def log_path(self, namespace: str, pod: str, container: str) -> Path:
        """The log file of one container."""
        return self.workdir / "logs" / f"{namespace}_{pod}_{container}.log"

    async def get_object(self, kind: str, namespace: str, name: str) -> JSON | None:
        """Read a ConfigMap or Secret (for env and volumes)."""
        return await self.kube.get(f"/api/v1/namespaces/{namespace}/{_PATHS[kind]}/{name}")

    async def request_token(self, pod: JSON) -> str | None:
        """A bound service-account token for the pod (TokenRequest), or None if refused."""
        meta = pod["metadata"]
        account = pod.get("spec", {}).get("serviceAccountName") or "default"
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "expirationSeconds": 86400,
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
            },
        }
        path = f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{account}/token"
        try:
            answer = await self.kube.request("POST", path, body)
        except KubeError as err:
            log.warning("no token for %s/%s: %s", meta["namespace"], meta["name"], err)
            return None
        token = answer.get("status", {}).get("token")
        return str(token) if token else None

    async def reconcile(self, key: str) -> None:
        """Start, keep or stop the pod's worker."""
        pod = self.pods.cache.get(key)
        worker = self.workers.get(key)
        if worker is not None and (
            pod is None or pod["metadata"]["uid"] != worker.uid or not self.owns(pod)
        ):
            self.workers.pop(key, None)
            await worker.stop(grace=2.0)
            await worker.cleanup()
            worker = None
        if pod is None or not self.owns(pod):
            return
        if pod["metadata"].get("deletionTimestamp"):
            if key not in self._deleting:
                self._deleting.add(key)
                task = asyncio.create_task(self._delete(key, pod, worker))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return
        if worker is None:
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                return
            worker = PodWorker(self, pod)
            self._kill_stale(worker)
            self.workers[key] = worker
            worker.start()
        else:
            worker.pod["metadata"] = pod["metadata"]

    async def _delete(self, key: str, pod: JSON, worker: PodWorker | None) -> None:
        meta = pod["metadata"]
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = pod.get("spec", {}).get("terminationGracePeriodSeconds", 30)
        try:
            if worker is not None:
                await worker.stop(float(grace))
                await worker.report()
                await worker.cleanup()
            path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
            await self.kube.delete(
                path, {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}}
            )
        except Exception:
            log.exception("deleting %s", key)
        finally:
            if self.workers.get(key) is worker:
                self.workers.pop(key, None)
            self._deleting.discard(key)

    def _kill_stale(self, worker: PodWorker) -> None:
        """Kill processes a previous runner left behind for this pod (restart safety)."""
        for pid_file in worker.dir.glob("*.pid") if worker.dir.is_dir() else []:
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)
            pid_file.unlink(missing_ok=True)

    async def run(self) -> None:
        """Run until cancelled."""
        await run_when_synced(self.queue, self.reconcile, f"runner {self.node.name}", self.pods)

    async def close(self, grace: float = 5.0) -> None:
        """Stop every pod's processes (the API is not touched) and remove their netns."""
        workers = list(self.workers.values())
        self.workers.clear()
        await asyncio.gather(*(w.stop(grace) for w in workers), return_exceptions=True)
        for worker in workers:
            await worker.cleanup()
