"""``liqoctl sandbox up`` installs Liqo in every cluster; checked with kubectl and the host.

The sandbox runs with the test-only module ``marker`` installed (PYTHONPATH) and enabled
(``LIQO_MODULES``), so its ``liqo_sandbox_components`` hook is called and the controller-
managers load it too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest
import yaml

from liqo_core.sandbox.apiproxy import socket_path
from liqo_core.sandbox.netns import list_netns
from liqo_core.sandbox.sandbox import pid_alive
from liqo_core.sandbox.topology import host_links
from liqo_core.testing.clusters import ClusterHandle
from liqo_core.testing.kubectl import get_json

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox_local]

LEASE = "66cf253f.ctrlmgr.liqo.io"
MARKER_DIST = Path(__file__).parents[1] / "fixtures" / "dists" / "liqo-test-module-marker"
CRDS = {
    "foreignclusters.core.liqo.io",
    "resourceslices.authentication.liqo.io",
    "virtualnodes.offloading.liqo.io",
    "configurations.networking.liqo.io",
}


def liqoctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from liqo_core.cli.app import main; main()", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=240, check=False, env=env
    )


@pytest.fixture(scope="module")
def marker_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the installed ``liqo-test-module-marker`` distribution."""
    source = tmp_path_factory.mktemp("marker-src") / "dist"
    shutil.copytree(MARKER_DIST, source)  # pip builds in place: keep the repository clean
    site = tmp_path_factory.mktemp("marker-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    return site


def _condition(obj: dict[str, Any], kind: str) -> str | None:
    for condition in obj.get("status", {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def _check_cluster(cluster: ClusterHandle, pod_cidr: str) -> tuple[str, str]:
    """Assert Liqo is installed and running in ``cluster``; return the controller-manager
    pod's name and uid."""
    name = cluster.name
    assert get_json(cluster, "namespace", "liqo")["status"]["phase"] == "Active"
    crds = {crd["metadata"]["name"] for crd in get_json(cluster, "crds")["items"]}
    assert crds >= CRDS

    cluster_id = get_json(cluster, "configmap", "-n", "liqo", "liqo-clusterid-configmap")
    assert cluster_id["data"]["CLUSTER_ID"] == name
    config = get_json(cluster, "configmap", "-n", "liqo", "liqo-controller-manager-config")
    settings = yaml.safe_load(config["data"]["config.yaml"])
    assert settings["clusterID"] == name
    assert settings["controllerManager"]["leaderElection"]["enabled"] is True

    pods = get_json(
        cluster, "pods", "-n", "liqo", "-l", "app.kubernetes.io/name=controller-manager"
    )["items"]
    assert len(pods) == 1
    (pod,) = pods
    assert pod["status"]["phase"] == "Running"
    assert _condition(pod, "Ready") == "True"
    assert pod["metadata"]["annotations"]["sandbox.liqo.io/netns"] == "true"
    assert ip_address(pod["status"]["podIP"]) in ip_network(pod_cidr)  # its own netns
    deployment = get_json(cluster, "deployment", "-n", "liqo", "liqo-controller-manager")
    assert deployment["status"]["readyReplicas"] == 1

    lease = get_json(cluster, "lease", "-n", "liqo", LEASE)
    spec = lease["spec"]
    assert spec["holderIdentity"] == pod["metadata"]["name"]
    renewed = datetime.fromisoformat(spec["renewTime"].replace("Z", "+00:00"))
    age = (datetime.now(UTC) - renewed).total_seconds()
    assert age < spec["leaseDurationSeconds"], spec

    component = get_json(cluster, "configmap", "-n", "liqo", "liqo-test-marker-sandbox")
    assert component["data"] == {"cluster": name, "clusterID": name}
    return pod["metadata"]["name"], pod["metadata"]["uid"]


def test_up_installs_and_runs_liqo_in_every_cluster(tmp_path: Path, marker_site: Path) -> None:
    directory = tmp_path / "sb"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(marker_site), env.get("PYTHONPATH")]))
    env["LIQO_MODULES"] = "networking,authentication,offloading,marker"
    up = liqoctl("sandbox", "up", "--clusters", "2", "--dir", str(directory), env=env)
    log = directory / "supervisor.log"
    assert up.returncode == 0, up.stderr + (log.read_text()[-3000:] if log.exists() else "")
    state = json.loads((directory / "sandbox.json").read_text())
    pids: list[int] = []
    try:
        for info in state["clusters"]:
            cluster = ClusterHandle(info["name"], Path(info["kubeconfig"]))
            pod, uid = _check_cluster(cluster, info["podCIDR"])
            pid_file = next(directory.glob(f"{info['name']}/pods/liqo_{pod}_{uid[:8]}/*.pid"))
            pids.append(int(pid_file.read_text()))
        assert all(pid_alive(pid) for pid in pids)
        # One namespace per node, and one per pod with a network of its own (the
        # controller-managers, the cluster DNS).
        expected = {n["netns"] for c in state["clusters"] for n in c["nodes"]}
        for info in state["clusters"]:
            cluster = ClusterHandle(info["name"], Path(info["kubeconfig"]))
            for namespace in ("liqo", "kube-system"):
                for pod in get_json(cluster, "pods", "-n", namespace)["items"]:
                    address = pod["status"].get("podIP")
                    if address and ip_address(address) in ip_network(info["podCIDR"]):
                        expected.add(f"{state['netnsPrefix']}-{pod['metadata']['uid']}")
        assert set(list_netns(state["netnsPrefix"])) == expected

        status = liqoctl("sandbox", "status", "--dir", str(directory), "-o", "json")
        assert status.returncode == 0, status.stderr
        entries = json.loads(status.stdout)
        assert [(e["name"], e["liqoInstalled"], e["controllerManagerReady"]) for e in entries] == [
            ("cluster-1", True, True),
            ("cluster-2", True, True),
        ]
        table = liqoctl("sandbox", "status", "--dir", str(directory))
        assert table.returncode == 0, table.stderr
        assert table.stdout.count("installed") == 2 and table.stdout.count("1/1 ready") == 2

        _peer_as_the_readme_says(directory)
        _webhooks_guard_tenants(
            ClusterHandle("cluster-2", Path(state["clusters"][1]["kubeconfig"]))
        )
    finally:
        down = liqoctl("sandbox", "down", "--dir", str(directory))
    assert down.returncode == 0, down.stderr
    assert not pid_alive(state["pid"])
    assert not any(pid_alive(c["emulatorPid"]) for c in state["clusters"])
    assert not any(pid_alive(pid) for pid in pids)
    assert list_netns(state["netnsPrefix"]) == []
    assert not host_links(state["network"]["bridge"])
    assert not any(
        Path(socket_path(state["netnsPrefix"], c["name"])).exists() for c in state["clusters"]
    )
    assert not list(directory.glob("*/pods/*/*.pid"))


def _tenant(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "authentication.liqo.io/v1beta1",
        "kind": "Tenant",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"clusterID": "cluster-x", "authzPolicy": "TolerateNoHandshake"},
    }


def _webhooks_guard_tenants(cluster: ClusterHandle) -> None:
    """The API server calls the controller-manager's webhooks through Service liqo-webhook:
    the mutating one labels a Tenant, the validating one refuses a second Tenant in a
    tenant namespace."""
    slices = get_json(
        cluster, "endpointslices", "-n", "liqo", "-l", "kubernetes.io/service-name=liqo-webhook"
    )["items"]
    assert [e["conditions"]["ready"] for s in slices for e in s["endpoints"]] == [True]
    namespace = "webhook-check"
    cluster.kubectl("create", "namespace", namespace)
    try:
        cluster.kubectl("apply", "-f", "-", input=json.dumps(_tenant("first", namespace)))
        first = get_json(cluster, "tenant", "-n", namespace, "first")
        assert first["metadata"]["labels"]["liqo.io/remote-cluster-id"] == "cluster-x"
        second = cluster.kubectl(
            "apply", "-f", "-", input=json.dumps(_tenant("second", namespace)), check=False
        )
        assert second.returncode != 0
        assert 'admission webhook "tenant.validate.liqo-webhook" denied' in second.stderr
        assert "already holds Tenant first (one Tenant per tenant namespace)" in second.stderr
        assert get_json(cluster, "tenant", "-n", namespace, "second") is None
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def _peer_as_the_readme_says(directory: Path) -> None:
    """README: ``liqoctl peer`` between the two sandbox clusters, ``info peer``, ``unpeer``."""
    consumer = ["--kubeconfig", str(directory / "cluster-1" / "kubeconfig")]
    remote = ["--remote-kubeconfig", str(directory / "cluster-2" / "kubeconfig")]
    peered = liqoctl(*consumer, "peer", *remote, "--networking-disabled", "--timeout", "120")
    assert peered.returncode == 0, peered.stdout + peered.stderr
    assert "Peered with provider cluster-2" in peered.stdout
    info = liqoctl(*consumer, "info", "peer", "cluster-2", "-o", "json")
    assert info.returncode == 0, info.stderr
    described = json.dumps(json.loads(info.stdout))
    assert '"Provider"' in described and "accepted" in described, described
    unpeered = liqoctl(*consumer, "unpeer", *remote, "--delete-namespaces")
    assert unpeered.returncode == 0, unpeered.stdout + unpeered.stderr
    namespaces = json.loads(
        subprocess.run(
            ["kubectl", *consumer, "get", "namespaces", "-o", "json"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
    )  # fmt: skip
    names = {item["metadata"]["name"] for item in namespaces["items"]}
    assert not [name for name in names if name.startswith("liqo-tenant-")], names


def test_up_with_a_missing_chart_is_a_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-chart"
    result = liqoctl("sandbox", "up", "--dir", str(tmp_path / "sb"), "--chart", str(missing))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert str(missing) in result.stderr and "--no-liqo" in result.stderr
    assert not (tmp_path / "sb" / "sandbox.json").exists()
