"""``liqo controller-manager`` replicas against a cluster: one leader, failover, probes, metrics.

The replicas run as subprocesses with the test-only module ``marker`` installed (it writes
``liqo-test/handled-by=<identity>`` on labelled ConfigMaps). Everything is observed through
the Kubernetes API and the HTTP endpoints, so the tests hold on a real cluster too.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from e2e_support import RoleProcess, install_distribution
from e2e_support import wait_for as e2e_wait_for

from liqo_core.testing.clusters import ClusterHandle
from liqo_core.testing.kubectl import get_json as kubectl_json

pytestmark = pytest.mark.e2e

LEASE = "66cf253f.ctrlmgr.liqo.io"
LABEL = "liqo-test/marker"
HANDLED_BY = "liqo-test/handled-by"
MARKER_DIST = Path(__file__).parents[1] / "fixtures" / "dists" / "liqo-test-module-marker"
T = TypeVar("T")


@pytest.fixture(scope="session")
def marker_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the installed ``liqo-test-module-marker`` distribution."""
    return install_distribution(MARKER_DIST, tmp_path_factory)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    """The shared e2e wait, with this file's longer default (subprocess replicas start slowly)."""
    return e2e_wait_for(what, probe, timeout, interval=0.2)


class Replicas:
    """Starts replicas sharing one config and cleans them up."""

    def __init__(self, cluster: ClusterHandle, namespace: str, site: Path, tmp: Path) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.site = site
        self.tmp = tmp
        self.started: list[RoleProcess] = []
        self.marked: list[str] = []

    def config(self, modules: tuple[str, ...] = ("marker",), **manager: Any) -> Path:
        path = self.tmp / "config.yaml"
        document = {
            "modules": list(modules),
            "namespace": self.namespace,
            "controllerManager": manager,
        }
        path.write_text(yaml.safe_dump(document))
        return path

    def start(
        self,
        identity: str,
        config: Path,
        *extra: str,
        health_port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> RoleProcess:
        replica = RoleProcess.start(
            "controller-manager",
            self.cluster,
            *extra,
            identity=identity,
            config=config,
            site=self.site,
            log=self.tmp / f"{identity}.log",
            health_port=health_port,
            env=env,
        )
        self.started.append(replica)
        return replica

    def close(self) -> None:
        for replica in self.started:
            replica.kill()
        for name in self.marked:  # no replica is left to remove the module's finalizer
            self.cluster.kubectl(
                *("patch", "configmap", name, "-n", self.namespace, "--type=merge"),
                *("-p", '{"metadata": {"finalizers": null}}'),
                check=False,
            )

    # --- observations through the API ------------------------------------------------

    def get_json(self, *args: str) -> dict[str, Any] | None:
        return kubectl_json(self.cluster, *args, "-n", self.namespace)

    def lease_spec(self) -> dict[str, Any]:
        lease = self.get_json("lease", LEASE)
        return dict(lease["spec"]) if lease else {}

    def holder(self) -> str:
        return str(self.lease_spec().get("holderIdentity") or "")

    def create_marked(self, name: str) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": self.namespace, "labels": {LABEL: "true"}},
            "data": {"k": "v"},
        }
        self.cluster.kubectl("create", "-f", "-", input=json.dumps(body))
        self.marked.append(name)

    def handled_by(self, name: str) -> str | None:
        config_map = self.get_json("configmap", name)
        annotations = (config_map or {}).get("metadata", {}).get("annotations") or {}
        return annotations.get(HANDLED_BY)


@pytest.fixture
def replicas(
    kube_cluster: ClusterHandle, namespace: str, marker_site: Path, tmp_path: Path
) -> Iterator[Replicas]:
    group = Replicas(kube_cluster, namespace, marker_site, tmp_path)
    try:
        yield group
    finally:
        group.close()


def _leader_among(replicas: Replicas, candidates: list[RoleProcess]) -> RoleProcess:
    identities = {replica.identity: replica for replica in candidates}
    holder = wait_for("a lease holder", lambda: identities.get(replicas.holder()))
    return holder


def test_one_leader_handles_objects_and_a_standby_takes_over_when_it_dies(replicas):
    config = replicas.config(
        leaderElection={"leaseDuration": 4, "renewDeadline": 3, "retryPeriod": 0.5}
    )
    a, b = replicas.start("replica-a", config), replicas.start("replica-b", config)
    leader = _leader_among(replicas, [a, b])
    standby = b if leader is a else a

    for replica in (a, b):
        wait_for(f"{replica.identity} ready", lambda r=replica: r.probe("/readyz") == 200)
        assert replica.probe("/healthz") == 200
        assert replica.metric('liqo_controller_manager_modules_enabled{module="marker"}') == 1
    assert leader.metric("liqo_controller_manager_leader") == 1
    assert standby.metric("liqo_controller_manager_leader") == 0
    assert leader.metric('liqo_controller_manager_module_ready{module="marker"}') == 1

    replicas.create_marked("first")
    assert wait_for("first handled", lambda: replicas.handled_by("first")) == leader.identity
    first = replicas.get_json("configmap", "first")
    assert first is not None
    assert "marker.kopf.liqo.io/finalizer" in first["metadata"]["finalizers"]
    annotations = first["metadata"]["annotations"]
    assert any(key.startswith("marker.kopf.liqo.io/") for key in annotations)
    assert not any(key.startswith("kopf.zalando.org/") for key in annotations)
    transitions = int(replicas.lease_spec().get("leaseTransitions") or 0)

    leader.process.kill()
    leader.process.wait(30)
    wait_for("the standby to hold the lease", lambda: replicas.holder() == standby.identity)
    assert int(replicas.lease_spec()["leaseTransitions"]) == transitions + 1
    wait_for("the new leader's metric", lambda: standby.metric("liqo_controller_manager_leader"))

    replicas.create_marked("second")
    assert wait_for("second handled", lambda: replicas.handled_by("second")) == standby.identity
    assert replicas.handled_by("first") == leader.identity

    replicas.cluster.kubectl("delete", "configmap", "second", "-n", replicas.namespace)
    wait_for("second deleted", lambda: replicas.get_json("configmap", "second") is None)
    assert standby.stop(signal.SIGTERM) == 0


def test_sigterm_releases_the_lease_for_an_immediate_failover(replicas):
    # A lease that outlives the test: only an explicit release lets the standby in.
    config = replicas.config(
        leaderElection={"leaseDuration": 120, "renewDeadline": 60, "retryPeriod": 0.5}
    )
    a = replicas.start("replica-a", config)
    wait_for("replica-a to lead", lambda: replicas.holder() == "replica-a")
    wait_for("replica-a ready", lambda: a.probe("/readyz") == 200)
    b = replicas.start("replica-b", config)
    wait_for("replica-b ready as standby", lambda: b.probe("/readyz") == 200)
    assert b.metric("liqo_controller_manager_leader") == 0
    assert replicas.holder() == "replica-a"

    asked = time.monotonic()
    assert a.stop(signal.SIGTERM) == 0
    assert time.monotonic() - asked < 15, "a clean shutdown takes a few seconds at most"
    assert "Traceback" not in a.logs()
    wait_for("replica-b to lead", lambda: replicas.holder() == "replica-b", timeout=30)

    replicas.create_marked("after")
    assert wait_for("after handled", lambda: replicas.handled_by("after")) == "replica-b"
    assert b.stop(signal.SIGINT) == 0
    assert replicas.holder() == ""


def test_without_modules_or_leader_election_only_the_core_operator_runs(replicas):
    config = replicas.config(modules=())
    solo = replicas.start("solo", config, "--no-leader-elect")
    wait_for("solo ready", lambda: solo.probe("/readyz") == 200)
    assert solo.probe("/healthz") == 200
    wait_for("solo leading", lambda: solo.metric("liqo_controller_manager_leader") == 1)
    # The core operator (ForeignClusters) runs even with no module enabled.
    assert solo.metric('liqo_controller_manager_module_ready{module="core"}') == 1
    assert replicas.get_json("lease", LEASE) is None
    assert solo.stop(signal.SIGTERM) == 0


def test_busy_port_is_a_one_line_error(replicas):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        replica = replicas.start("busy", replicas.config(), "--no-leader-elect", health_port=port)
        code = replica.process.wait(60)
    assert code == 1
    errors = [line for line in replica.logs().splitlines() if line.startswith("Error: ")]
    assert errors == [f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert "Traceback" not in replica.logs()


def test_leader_that_loses_its_lease_stops_and_exits_non_zero(replicas):
    config = replicas.config(
        leaderElection={"leaseDuration": 4, "renewDeadline": 3, "retryPeriod": 0.5}
    )
    a = replicas.start("replica-a", config)
    wait_for("replica-a to lead", lambda: replicas.holder() == "replica-a")
    wait_for("replica-a ready", lambda: a.probe("/readyz") == 200)
    b = replicas.start("replica-b", config)
    wait_for("replica-b ready as standby", lambda: b.probe("/readyz") == 200)

    def steal() -> bool:
        lease = replicas.get_json("lease", LEASE)
        assert lease is not None
        lease["spec"].update(holderIdentity="intruder", leaseDurationSeconds=3600)
        replaced = replicas.cluster.kubectl(
            "replace", "-f", "-", input=json.dumps(lease), check=False
        )
        return replaced.returncode == 0  # a conflict with a renewal: read again

    wait_for("the lease to be taken over", steal)
    assert a.process.wait(60) == 1
    assert "leader election lost" in a.logs()
    assert replicas.holder() == "intruder"  # a leader that lost does not release
    assert b.metric("liqo_controller_manager_leader") == 0  # the intruder's lease is valid
    assert b.stop(signal.SIGTERM) == 0  # a standby stops at once, writing nothing
    assert replicas.holder() == "intruder"


def test_a_module_that_cannot_start_stops_the_process(replicas):
    config = replicas.config(leaderElection={"enabled": False})
    broken = replicas.start("broken", config, env={"LIQO_TEST_MARKER_FAIL_STARTUP": "1"})
    assert broken.process.wait(60) == 1
    assert "module marker stopped unexpectedly" in broken.logs()
