"""pytest fixtures for tests that need clusters with pods that actually run.

- ``sandbox``: session-scoped :class:`SandboxClusters`. By default a :class:`Sandbox` with
  ``LIQO_TEST_SANDBOX_CLUSTERS`` (default 2) emulated clusters, their nodes, workload
  controllers, scheduler, hollow kubelet and process runner. With
  ``LIQO_TEST_KUBECONFIGS`` set, the listed real clusters are used as they are: no
  emulator and no sandbox component is started (real clusters have their own scheduler,
  controllers and kubelets).
- ``sandbox_namespace``: a fresh namespace in the sandbox's first cluster.
- ``sandbox_host``: the local :class:`Sandbox`, for tests that look at the host side
  (pod network namespaces, process logs). Such tests carry the ``sandbox_local`` marker;
  deselect them with ``-m "not sandbox_local"`` when running against real clusters.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from liqo_core.sandbox.sandbox import Sandbox
from liqo_core.sandbox.state import ClusterInfo
from liqo_core.testing.clusters import ClusterHandle, kubeconfigs_from_env, unique_name

ENV_CLUSTERS = "LIQO_TEST_SANDBOX_CLUSTERS"


@dataclass
class SandboxClusters:
    """The session's sandbox: cluster handles plus, when emulated, the local sandbox."""

    clusters: list[ClusterHandle]
    sandbox: Sandbox | None = None
    infos: list[ClusterInfo] = field(default_factory=list)

    @property
    def emulated(self) -> bool:
        """True when the clusters are the sandbox's own emulated ones."""
        return self.sandbox is not None

    def info(self, name: str) -> ClusterInfo:
        """CIDRs, cluster ID and nodes of an emulated cluster."""
        for info in self.infos:
            if info.name == name:
                return info
        raise KeyError(name)


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``sandbox_local`` marker."""
    config.addinivalue_line(
        "markers", "sandbox_local: needs the local sandbox's host side (emulated mode only)"
    )


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxClusters]:
    """Clusters with running pods: a local sandbox, or the real clusters of the environment."""
    real = kubeconfigs_from_env()
    if real is not None:
        yield SandboxClusters([ClusterHandle(f"cluster-{i + 1}", p) for i, p in enumerate(real)])
        return
    local = Sandbox(tmp_path_factory.mktemp("sandbox"))
    state = local.up(int(os.environ.get(ENV_CLUSTERS, "2")))
    handles = [
        ClusterHandle(info.name, Path(info.kubeconfig), emulated=True) for info in state.clusters
    ]
    try:
        yield SandboxClusters(handles, local, state.clusters)
    finally:
        for handle in handles:
            handle.close()
        local.down()


@pytest.fixture
def sandbox_host(sandbox: SandboxClusters) -> Sandbox:
    """The local sandbox (fails clearly against real clusters)."""
    if sandbox.sandbox is None:
        raise pytest.UsageError(
            "this test needs the local sandbox; deselect it with -m 'not sandbox_local' "
            "when LIQO_TEST_KUBECONFIGS is set"
        )
    return sandbox.sandbox


@pytest.fixture
def sandbox_namespace(sandbox: SandboxClusters, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace in the sandbox's first cluster; deleted after the test."""
    cluster = sandbox.clusters[0]
    name = unique_name(f"sb-{request.node.name}")
    manifest = f'{{"apiVersion": "v1", "kind": "Namespace", "metadata": {{"name": "{name}"}}}}'
    cluster.kubectl("apply", "-f", "-", input=manifest)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
