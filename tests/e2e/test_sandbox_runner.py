"""Process runner and pod network namespaces: real processes, real packets."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from liqo_core.sandbox import Sandbox
from liqo_core.sandbox.netns import list_netns, pod_netns_name
from liqo_core.testing.clusters import ClusterHandle
from liqo_core.testing.kubectl import apply, get_json, wait_for
from liqo_core.testing.sandbox_fixtures import SandboxClusters

pytestmark = pytest.mark.e2e

PROCESS = {"sandbox.liqo.io/runner": "process"}


@pytest.fixture
def cluster(sandbox: SandboxClusters) -> ClusterHandle:
    return sandbox.clusters[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_pod(
    namespace: str, name: str, containers: list[dict[str, Any]], **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "annotations": dict(PROCESS)},
        "spec": {"containers": containers, **spec},
    }


def http_server_pod(namespace: str, port: int) -> list[dict[str, Any]]:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "www", "namespace": namespace},
        "data": {"index.html": "hello from the sandbox\n"},
    }
    container = {
        "name": "http",
        "image": "python:3.11-slim",
        "command": [
            "python",
            "-m",
            "http.server",
            str(port),
            "--bind",
            "$(POD_IP)",
            "--directory",
            "/srv/www",
        ],
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "readinessProbe": {"httpGet": {"path": "/index.html", "port": port}, "periodSeconds": 1},
        "volumeMounts": [{"name": "www", "mountPath": "/srv/www"}],
    }
    pod = process_pod(
        namespace, "http", [container], volumes=[{"name": "www", "configMap": {"name": "www"}}]
    )
    return [config, pod]


def ready(cluster: ClusterHandle, namespace: str, name: str) -> dict[str, Any] | None:
    pod = get_json(cluster, "pod", "-n", namespace, name)
    for cond in (pod or {}).get("status", {}).get("conditions") or []:
        if cond["type"] == "Ready" and cond["status"] == "True":
            return dict(pod)
    return None


def test_process_pod_runs_its_command_and_becomes_ready(
    cluster: ClusterHandle, sandbox_namespace: str
) -> None:
    apply(cluster, *http_server_pod(sandbox_namespace, free_port()))
    pod = wait_for(
        lambda: ready(cluster, sandbox_namespace, "http"), timeout=60, what="http pod Ready"
    )
    status = pod["status"]
    assert status["phase"] == "Running"
    assert status["podIP"] and status["hostIP"]
    assert status["containerStatuses"][0]["state"]["running"]["startedAt"]
    assert status["containerStatuses"][0]["restartCount"] == 0


@pytest.mark.sandbox_local
def test_process_pod_serves_its_configmap_on_its_pod_ip(
    cluster: ClusterHandle, sandbox_namespace: str, sandbox_host: Sandbox
) -> None:
    port = free_port()
    apply(cluster, *http_server_pod(sandbox_namespace, port))
    pod = wait_for(
        lambda: ready(cluster, sandbox_namespace, "http"), timeout=60, what="http pod Ready"
    )
    url = f"http://{pod['status']['podIP']}:{port}/index.html"
    state = sandbox_host.state
    assert state is not None
    if state.network is None:  # pods share the host's network
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.read() == b"hello from the sandbox\n"
    else:  # pod IPs are reached from the nodes, as on kind
        assert fetch_from(node_netns(state, pod["spec"]["nodeName"]), url) == (
            "hello from the sandbox\n"
        )
    log = sandbox_host.directory / "cluster-1" / "logs" / f"{sandbox_namespace}_http_http.log"
    assert "GET /index.html" in log.read_text()


def test_crashing_container_is_restarted_with_backoff(
    cluster: ClusterHandle, sandbox_namespace: str
) -> None:
    container = {
        "name": "crash",
        "image": "busybox",
        "command": ["sh", "-c", "echo up; sleep 1; exit 3"],
    }
    apply(cluster, process_pod(sandbox_namespace, "crash", [container]))

    def restarted() -> dict[str, Any] | None:
        pod = get_json(cluster, "pod", "-n", sandbox_namespace, "crash")
        statuses = pod.get("status", {}).get("containerStatuses") or []
        return statuses[0] if statuses and statuses[0]["restartCount"] >= 2 else None

    status = wait_for(restarted, timeout=90, what="two restarts")
    assert status["lastState"]["terminated"]["exitCode"] == 3
    assert status["lastState"]["terminated"]["reason"] == "Error"
    pod = get_json(cluster, "pod", "-n", sandbox_namespace, "crash")
    assert pod["status"]["phase"] == "Running"


@pytest.mark.parametrize(("code", "phase"), [(0, "Succeeded"), (2, "Failed")])
def test_run_to_completion(
    cluster: ClusterHandle, sandbox_namespace: str, code: int, phase: str
) -> None:
    container = {"name": "job", "image": "busybox", "command": ["sh", "-c", f"exit {code}"]}
    apply(cluster, process_pod(sandbox_namespace, "once", [container], restartPolicy="Never"))
    pod = wait_for(
        lambda: (
            (p := get_json(cluster, "pod", "-n", sandbox_namespace, "once"))["status"].get("phase")
            == phase
            and p
        ),
        timeout=60,
        what=f"phase {phase}",
    )
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == code
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0


@pytest.mark.sandbox_local
def test_deleting_a_process_pod_stops_the_process(
    cluster: ClusterHandle, sandbox_namespace: str, sandbox_host: Sandbox, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    script = (
        "import os, pathlib, sys, time; "
        "pathlib.Path(sys.argv[1]).write_text(str(os.getpid())); time.sleep(600)"
    )
    container = {
        "name": "sleeper",
        "image": "python",
        "command": ["python", "-c", script, str(pid_file)],
    }
    apply(
        cluster,
        process_pod(sandbox_namespace, "sleeper", [container], terminationGracePeriodSeconds=5),
    )
    wait_for(lambda: ready(cluster, sandbox_namespace, "sleeper"), timeout=60, what="sleeper Ready")
    pid = int(wait_for(lambda: pid_file.is_file() and pid_file.read_text(), what="pid file"))
    os.kill(pid, 0)
    cluster.kubectl("delete", "pod", "-n", sandbox_namespace, "sleeper", "--wait=false")
    wait_for(
        lambda: get_json(cluster, "pod", "-n", sandbox_namespace, "sleeper") is None,
        timeout=30,
        what="pod gone",
    )
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def node_netns(state: Any, node: str) -> str:
    """The network namespace of sandbox node ``node``."""
    return next(n.netns for c in state.clusters for n in c.nodes if n.name == node)


FETCH = (
    "import sys, urllib.request; "
    "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())"
)


def fetch_from(netns: str, url: str) -> str:
    command = ["ip", "netns", "exec", netns, sys.executable, "-c", FETCH, url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=15, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def ping_from(netns: str, address: str) -> subprocess.CompletedProcess[str]:
    command = [
        "ip",
        "netns",
        "exec",
        netns,
        sys.executable,
        "-m",
        "liqo_core.sandbox.icmp",
        address,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=15, check=False)


@pytest.mark.sandbox_local
def test_pods_with_netns_answer_ping(
    cluster: ClusterHandle, sandbox_namespace: str, sandbox_host: Sandbox
) -> None:
    state = sandbox_host.state
    assert state is not None
    nodes = [n.name for n in state.clusters[0].nodes]
    manifests = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": sandbox_namespace,
                "annotations": {"sandbox.liqo.io/netns": "true"},
            },
            "spec": {
                "nodeName": node,
                "containers": [{"name": "c", "image": "pause"}],
            },
        }
        for name, node in (("a", nodes[0]), ("b", nodes[-1]))
    ]
    apply(cluster, *manifests)
    pods = {
        name: wait_for(
            functools.partial(ready, cluster, sandbox_namespace, name), what=f"pod {name} Ready"
        )
        for name in ("a", "b")
    }
    netns_a = pod_netns_name(state.netns_prefix, pods["a"]["metadata"]["uid"])
    netns_b = pod_netns_name(state.netns_prefix, pods["b"]["metadata"]["uid"])
    assert {netns_a, netns_b} <= set(list_netns(state.netns_prefix))
    reply = ping_from(netns_a, pods["b"]["status"]["podIP"])
    assert reply.returncode == 0, reply.stderr
    reply = ping_from(node_netns(state, nodes[-1]), pods["a"]["status"]["podIP"])
    assert reply.returncode == 0, reply.stderr
    cluster.kubectl("delete", "pod", "-n", sandbox_namespace, "a", "b", "--wait=false")
    wait_for(
        lambda: not {netns_a, netns_b} & set(list_netns(state.netns_prefix)), what="netns removed"
    )


def test_init_container_prepares_a_shared_empty_dir(
    cluster: ClusterHandle, sandbox_namespace: str
) -> None:
    mount = [{"name": "work", "mountPath": "/work"}]
    env = [{"name": "FLAG", "value": "/work/flag"}]
    init = {
        "name": "prepare",
        "image": "busybox",
        "command": ["sh", "-c", 'echo ok > "$FLAG"'],
        "env": env,
        "volumeMounts": mount,
    }
    main = {
        "name": "main",
        "image": "busybox",
        "command": ["sh", "-c", 'test -f "$FLAG" && exec sleep 600'],
        "env": env,
        "volumeMounts": mount,
    }
    apply(
        cluster,
        process_pod(
            sandbox_namespace,
            "init",
            [main],
            initContainers=[init],
            volumes=[{"name": "work", "emptyDir": {}}],
        ),
    )
    pod = wait_for(
        lambda: ready(cluster, sandbox_namespace, "init"), timeout=60, what="init pod Ready"
    )
    assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0


def test_failing_liveness_probe_restarts_the_container(
    cluster: ClusterHandle, sandbox_namespace: str
) -> None:
    container = {
        "name": "unhealthy",
        "image": "busybox",
        "command": ["sleep", "600"],
        "livenessProbe": {
            "exec": {"command": ["false"]},
            "periodSeconds": 1,
            "failureThreshold": 2,
        },
    }
    apply(cluster, process_pod(sandbox_namespace, "unhealthy", [container]))

    def restarted() -> dict[str, Any] | None:
        pod = get_json(cluster, "pod", "-n", sandbox_namespace, "unhealthy")
        statuses = pod.get("status", {}).get("containerStatuses") or []
        return statuses[0] if statuses and statuses[0]["restartCount"] >= 1 else None

    status = wait_for(restarted, timeout=60, what="a liveness restart")
    assert status["lastState"]["terminated"]["exitCode"] == 143


IN_CLUSTER_CHECK = """
import json, os, ssl, urllib.request
root = "/var/run/secrets/kubernetes.io/serviceaccount"
token = open(root + "/token").read()
namespace = open(root + "/namespace").read()
context = ssl.create_default_context(cafile=root + "/ca.crt")
host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
request = urllib.request.Request(
    f"https://{host}:{port}/apis/authentication.k8s.io/v1/selfsubjectreviews",
    data=b'{"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}',
    headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    method="POST",
)
with urllib.request.urlopen(request, context=context, timeout=10) as response:
    user = json.load(response)["status"]["userInfo"]["username"]
expected = f"system:serviceaccount:{namespace}:default"
print(user)
raise SystemExit(0 if user == expected else 1)
"""


@pytest.mark.parametrize("own_netns", [False, True], ids=["host-network", "own-netns"])
def test_process_pod_reaches_the_api_with_its_service_account(
    cluster: ClusterHandle, sandbox_namespace: str, own_netns: bool
) -> None:
    container = {
        "name": "check",
        "image": "python:3.11-slim",
        "command": ["python", "-c", IN_CLUSTER_CHECK],
    }
    pod = process_pod(sandbox_namespace, "in-cluster", [container], restartPolicy="Never")
    if own_netns:
        pod["metadata"]["annotations"]["sandbox.liqo.io/netns"] = "true"
    else:
        pod["spec"]["hostNetwork"] = True
    apply(cluster, pod)
    pod = wait_for(
        lambda: (
            (p := get_json(cluster, "pod", "-n", sandbox_namespace, "in-cluster"))["status"].get(
                "phase"
            )
            in ("Succeeded", "Failed")
            and p
        ),
        timeout=60,
        what="the in-cluster check to finish",
    )
    assert pod["status"]["phase"] == "Succeeded"


@pytest.mark.sandbox_local
def test_process_pod_in_its_own_network_namespace(
    cluster: ClusterHandle, sandbox_namespace: str, sandbox_host: Sandbox
) -> None:
    state = sandbox_host.state
    assert state is not None
    manifests = http_server_pod(sandbox_namespace, 8080)
    manifests[1]["metadata"]["annotations"]["sandbox.liqo.io/netns"] = "true"
    apply(cluster, *manifests)
    pod = wait_for(
        lambda: ready(cluster, sandbox_namespace, "http"), timeout=60, what="http pod Ready"
    )
    pod_ip = pod["status"]["podIP"]
    assert pod_ip != pod["status"]["hostIP"]
    assert pod_netns_name(state.netns_prefix, pod["metadata"]["uid"]) in list_netns(
        state.netns_prefix
    )
    node = node_netns(state, pod["spec"]["nodeName"])
    assert fetch_from(node, f"http://{pod_ip}:8080/index.html") == "hello from the sandbox\n"


REACH_CHECK = """
import ssl, sys, urllib.error, urllib.request
try:
    context = ssl._create_unverified_context()
    urllib.request.urlopen(sys.argv[1] + "/version", context=context, timeout=5)
except urllib.error.HTTPError:
    pass
"""


@pytest.mark.sandbox_local
def test_netns_process_pod_reaches_every_sandbox_api_server(
    sandbox: SandboxClusters, sandbox_namespace: str, sandbox_host: Sandbox
) -> None:
    cluster = sandbox.clusters[0]
    servers = [info.server for info in sandbox.infos]
    assert len(servers) >= 2 and all(servers)
    containers = [
        {"name": f"reach-{i}", "image": "python", "command": ["python", "-c", REACH_CHECK, server]}
        for i, server in enumerate(servers)
    ]
    pod = process_pod(sandbox_namespace, "reach", containers, restartPolicy="Never")
    pod["metadata"]["annotations"]["sandbox.liqo.io/netns"] = "true"
    apply(cluster, pod)
    done = wait_for(
        lambda: (
            (p := get_json(cluster, "pod", "-n", sandbox_namespace, "reach"))["status"].get("phase")
            in ("Succeeded", "Failed")
            and p
        ),
        timeout=60,
        what="the reachability checks to finish",
    )
    codes = [s["state"]["terminated"]["exitCode"] for s in done["status"]["containerStatuses"]]
    assert codes == [0] * len(servers)
