"""Cluster fixtures: emulated clusters by default, real ones from ``LIQO_TEST_KUBECONFIGS``.

Fixtures (all tests must work both ways, so assert only through the API):

- ``kube_cluster``: one :class:`ClusterHandle` (the session's first cluster);
- ``kube_clusters``: a callable ``n -> list[ClusterHandle]`` (the first ``n`` clusters);
- ``namespace``: a fresh, uniquely named namespace in ``kube_cluster``, deleted afterwards.

Emulated clusters are started on first use and shared by the whole session (per xdist
worker). With ``LIQO_TEST_KUBECONFIGS="a.yaml,b.yaml"`` the listed clusters are used,
in that order, and a test asking for more clusters than listed fails with a clear error.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from liqo_core.sandbox.apiserver.cluster import EmulatedCluster

ENV_KUBECONFIGS = "LIQO_TEST_KUBECONFIGS"
KUBECTL = os.environ.get("LIQO_TEST_KUBECTL", "kubectl")


@dataclass
class ClusterHandle:
    """One cluster a test may use: its name and an admin kubeconfig."""

    name: str
    kubeconfig: Path
    emulated: bool = False
    cache_dir: Path | None = None
    _clients: list[object] = field(default_factory=list, repr=False)
    _shared: object | None = field(default=None, repr=False)

    def api_client(self) -> object:
        """A new ``kubernetes.client.ApiClient`` for this cluster (closed after the test)."""
        from kubernetes import config

        client = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig)
        )
        self._clients.append(client)
        return client

    def shared_client(self) -> object:
        """One ``ApiClient`` reused by the fixtures (do not close it)."""
        if self._shared is None:
            self._shared = self.api_client()
        return self._shared

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run ``kubectl --kubeconfig <this cluster> ARGS``; raise on failure if ``check``."""
        cmd = [KUBECTL, "--kubeconfig", str(self.kubeconfig)]
        if self.cache_dir is not None:
            cmd.append(f"--cache-dir={self.cache_dir}")
        cmd += args
        proc = subprocess.run(
            cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def close_clients(self) -> None:
        """Close the clients handed out by ``api_client()`` (fixtures do it after each test)."""
        for client in self._clients:
            if client is self._shared:
                continue
            close = getattr(client, "close", None)
            if close is not None:
                close()
        self._clients = [c for c in self._clients if c is self._shared]

    def close(self) -> None:
        """Close every client, the shared one included."""
        self._shared, shared = None, self._shared
        self.close_clients()
        close = getattr(shared, "close", None)
        if close is not None:
            close()
        self._clients.clear()


class ClusterPool:
    """The session's clusters, started (or read from the environment) on demand."""

    def __init__(self, base_dir: Path, kubeconfigs: list[Path] | None = None) -> None:
        self.base_dir = base_dir
        self.real = kubeconfigs
        self._emulated: list[EmulatedCluster] = []
        self._handles: list[ClusterHandle] = []
        self._with_env: dict[tuple[tuple[str, str], ...], list[ClusterHandle]] = {}
        self._handles_extra: list[ClusterHandle] = []
        if kubeconfigs is not None:
            for i, path in enumerate(kubeconfigs):
                self._handles.append(ClusterHandle(f"cluster-{i + 1}", path))

    def get(self, n: int) -> list[ClusterHandle]:
        """The first ``n`` clusters."""
        if self.real is not None:
            if n > len(self._handles):
                raise pytest.UsageError(
                    f"this test needs {n} clusters but {ENV_KUBECONFIGS} lists "
                    f"{len(self._handles)}; give at least {n} kubeconfig files"
                )
            return self._handles[:n]
        while len(self._handles) < n:
            name = f"cluster-{len(self._handles) + 1}"
            emu = EmulatedCluster(name, self.base_dir / name, exit_with_parent=True)
            emu.start()
            self._emulated.append(emu)
            handle = ClusterHandle(
                name, emu.kubeconfig, emulated=True, cache_dir=emu.state_dir / "kubectl-cache"
            )
            self._handles.append(handle)
        return self._handles[:n]

    def get_with_env(self, n: int, env: Mapping[str, str]) -> list[ClusterHandle]:
        """``n`` emulated clusters whose API servers run with ``env`` in their environment.

        For emulator knobs such as ``LIQO_APISERVER_CSR_MIN_EXPIRATION_SECONDS``: these
        clusters are started apart from the shared ones (once per distinct ``env``). With
        real clusters the first ``n`` are returned, configured as they are.
        """
        if self.real is not None:
            return self.get(n)
        key = tuple(sorted(env.items()))
        handles = self._with_env.setdefault(key, [])
        group = list(self._with_env).index(key) + 1
        while len(handles) < n:
            name = f"cluster-env{group}-{len(handles) + 1}"
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)  # the emulator process inherits it at spawn
            try:
                emu = EmulatedCluster(name, self.base_dir / name, exit_with_parent=True)
                emu.start()
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            self._emulated.append(emu)
            cache = emu.state_dir / "kubectl-cache"
            handles.append(ClusterHandle(name, emu.kubeconfig, emulated=True, cache_dir=cache))
        self._handles_extra.extend(h for h in handles if h not in self._handles_extra)
        return handles[:n]

    def close(self) -> None:
        """Stop the emulated clusters."""
        for handle in [*self._handles, *self._handles_extra]:
            handle.close()
        for emu in self._emulated:
            emu.stop()


def kubeconfigs_from_env() -> list[Path] | None:
    """Kubeconfig paths listed in ``LIQO_TEST_KUBECONFIGS`` (None if unset)."""
    raw = os.environ.get(ENV_KUBECONFIGS, "").strip()
    if not raw:
        return None
    paths = [Path(p.strip()).expanduser() for p in raw.split(",") if p.strip()]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise pytest.UsageError(f"{ENV_KUBECONFIGS}: no such file: {', '.join(missing)}")
    return paths


@pytest.fixture(scope="session")
def kube_cluster_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterPool]:
    """The session's cluster pool (use ``kube_cluster`` / ``kube_clusters`` instead)."""
    base = tmp_path_factory.mktemp("clusters")
    pool = ClusterPool(base, kubeconfigs_from_env())
    try:
        yield pool
    finally:
        pool.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def kube_clusters(
    kube_cluster_pool: ClusterPool,
) -> Iterator[Callable[[int], list[ClusterHandle]]]:
    """``kube_clusters(n)``: the first ``n`` clusters of the session."""
    used: list[ClusterHandle] = []

    def get(n: int) -> list[ClusterHandle]:
        handles = kube_cluster_pool.get(n)
        used.extend(handles)
        return handles

    yield get
    for handle in used:
        handle.close_clients()


@pytest.fixture
def kube_cluster(kube_cluster_pool: ClusterPool) -> Iterator[ClusterHandle]:
    """The session's first cluster (clients from ``api_client()`` are closed afterwards)."""
    handle = kube_cluster_pool.get(1)[0]
    yield handle
    handle.close_clients()


def unique_name(hint: str, max_len: int = 50) -> str:
    """A DNS-1123 label made of ``hint`` and a random suffix."""
    base = re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-")[: max_len - 7].strip("-")
    return f"{base or 't'}-{secrets.token_hex(3)}"


@pytest.fixture
def namespace(kube_cluster: ClusterHandle, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace in ``kube_cluster``; deleted (not awaited) after the test."""
    from kubernetes import client

    core = client.CoreV1Api(kube_cluster.shared_client())
    name = unique_name(f"t-{request.node.name}")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
