"""A real network for every sandbox cluster: pods, nodes, Services, cluster DNS and the
shared sandbox network, checked with real TCP payloads and through the API.

One sandbox (two clusters of a control plane and two workers, MTU 1400) serves the module;
the clean-up test starts its own.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_support import wait_for

from liqo_core.sandbox import Sandbox
from liqo_core.sandbox.netns import list_netns, pod_netns_name, sandbox_prefix
from liqo_core.sandbox.state import SandboxState
from liqo_core.testing.clusters import ClusterHandle
from liqo_core.testing.kubectl import apply, get_json

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox_local]

MTU = 1400
PORT = 9000
ECHO = """
import os, socket, threading
server = socket.create_server(("0.0.0.0", 9000))
def serve(conn, peer):
    with conn:
        data = conn.recv(256)
        conn.sendall(f"{os.environ['HOSTNAME']} {peer[0]} ".encode() + data)
while True:
    conn, peer = server.accept()
    threading.Thread(target=serve, args=(conn, peer), daemon=True).start()
"""
CLIENT = """
import socket, sys
host, port, token, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
for _ in range(count):
    try:
        with socket.create_connection((host, port), timeout=3) as conn:
            conn.sendall(token.encode())
            reply = b""
            while chunk := conn.recv(256):
                reply += chunk
        print(reply.decode())
    except OSError as err:
        print(f"ERR {err}")
"""


@dataclass
class Net:
    """The module's sandbox."""

    sandbox: Sandbox
    state: SandboxState
    clusters: list[ClusterHandle]
    namespace: str = "net"

    def node_netns(self, node: str) -> str:
        return next(n.netns for c in self.state.clusters for n in c.nodes if n.name == node)

    def pod_netns(self, pod: dict[str, Any]) -> str:
        return pod_netns_name(self.state.netns_prefix, pod["metadata"]["uid"])


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    sandbox = Sandbox(tmp_path_factory.mktemp("net") / "sb")
    state = sandbox.up(clusters=2, workers=2, mtu=MTU)
    clusters = [ClusterHandle(c.name, Path(c.kubeconfig)) for c in state.clusters]
    try:
        assert state.network is not None, state.network_note
        for cluster in clusters:
            cluster.kubectl("create", "namespace", "net")
        yield Net(sandbox, state, clusters)
    finally:
        sandbox.down()


def echo_pod(name: str, node: str | None = None, **labels: str) -> dict[str, Any]:
    """A process-run pod answering ``<pod name> <peer address> <payload>`` on port 9000."""
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "echo",
                "image": "python:3.11-slim",
                "command": ["python", "-c", ECHO],
                "ports": [{"name": "echo", "containerPort": PORT}],
                "readinessProbe": {"tcpSocket": {"port": PORT}, "periodSeconds": 1},
            }
        ],
        "terminationGracePeriodSeconds": 1,
    }
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "net",
            "labels": labels,
            "annotations": {"sandbox.liqo.io/runner": "process"},
        },
        "spec": spec,
    }


def client_pod(name: str, node: str) -> dict[str, Any]:
    """A hollow pod with a network namespace: a place to send traffic from."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "net",
            "annotations": {"sandbox.liqo.io/netns": "true"},
        },
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "pause"}]},
    }


def ready_pod(cluster: ClusterHandle, name: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        pod = get_json(cluster, "pod", "-n", "net", name)
        for cond in (pod or {}).get("status", {}).get("conditions") or []:
            if cond["type"] == "Ready" and cond["status"] == "True":
                return dict(pod)
        return None

    return wait_for(f"pod {name} Ready", probe, timeout=60)


def send_from(netns: str, host: str, port: int, count: int = 1) -> list[str]:
    """``count`` TCP connections from ``netns`` to ``host:port``, each sending a fresh
    token; the replies whose payload is that token (others fail the test)."""
    token = secrets.token_hex(8)
    command = ["ip", "netns", "exec", netns, sys.executable, "-c", CLIENT, host, str(port)]
    result = subprocess.run(
        [*command, token, str(count)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    replies = result.stdout.splitlines()
    ok = [r for r in replies if r.endswith(" " + token)]
    return [r.removesuffix(" " + token) for r in ok] if len(ok) == count else []


def send_from_host(host: str, port: int) -> str | None:
    token = secrets.token_hex(8)
    try:
        with socket.create_connection((host, port), timeout=3) as conn:
            conn.sendall(token.encode())
            reply = b""
            while chunk := conn.recv(256):
                reply += chunk
    except OSError:
        return None
    text = reply.decode()
    return text.removesuffix(" " + token) if text.endswith(" " + token) else None


def service(name: str, kind: str = "ClusterIP", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "net"},
        "spec": {
            "type": kind,
            "selector": {"app": name},
            "ports": [{"name": "echo", "port": 80, "targetPort": "echo"}],
            **spec,
        },
    }


def test_nodes_sit_on_the_shared_network(net: Net) -> None:
    network = net.state.network
    assert network is not None and network.mtu == MTU
    for info, cluster in zip(net.state.clusters, net.clusters, strict=True):
        for node in get_json(cluster, "nodes")["items"]:
            spec = next(n for n in info.nodes if n.name == node["metadata"]["name"])
            addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
            assert addresses["InternalIP"] == spec.internal_ip
            shown = subprocess.run(
                ["ip", "-n", spec.netns, "-j", "addr", "show", "dev", "eth0"],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            (link,) = json.loads(shown.stdout)
            assert link["mtu"] == MTU
            assert f"{spec.internal_ip}/16" in {
                f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"]
            }
    status = subprocess.run(
        [sys.executable, "-c", "from liqo_core.cli.app import main; main()", "sandbox",
         "status", "--dir", str(net.sandbox.directory), "-o", "json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    entries = json.loads(status.stdout)
    assert entries[0]["network"]["subnet"] == network.subnet
    assert entries[0]["nodes"][1]["netns"] == net.state.clusters[0].nodes[1].netns


def test_pod_to_pod_on_one_node_and_across_nodes(net: Net) -> None:
    cluster = net.clusters[0]
    workers = [n.name for n in net.state.clusters[0].nodes[1:]]
    apply(
        cluster,
        echo_pod("server", workers[0]),
        client_pod("near", workers[0]),
        client_pod("far", workers[1]),
    )
    server = ready_pod(cluster, "server")
    address = server["status"]["podIP"]
    for name in ("near", "far"):
        client = ready_pod(cluster, name)
        netns = net.pod_netns(client)
        shown = subprocess.run(
            ["ip", "-n", netns, "-j", "link", "show", "eth0"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert json.loads(shown.stdout)[0]["mtu"] == MTU
        replies = wait_for(
            f"{name} reaches the server",
            lambda netns=netns: send_from(netns, address, PORT),  # type: ignore[misc]
        )
        # Inside the cluster nothing is translated: the server sees the client's pod IP.
        assert replies == [f"server {client['status']['podIP']}"]


def test_services_cluster_ip_node_ports_and_load_balancer(net: Net) -> None:
    cluster = net.clusters[0]
    info = net.state.clusters[0]
    apply(
        cluster,
        echo_pod("lb-a", info.nodes[1].name, app="lb"),
        echo_pod("lb-b", info.nodes[2].name, app="lb"),
        service("lb", "LoadBalancer"),
        client_pod("lb-client", info.nodes[1].name),
    )
    pods = {name: ready_pod(cluster, name) for name in ("lb-a", "lb-b", "lb-client")}
    svc = wait_for(
        "a LoadBalancer address",
        lambda: (
            (s := get_json(cluster, "service", "-n", "net", "lb"))["status"]
            .get("loadBalancer", {})
            .get("ingress")
            and s
        ),
    )
    cluster_ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    (ingress,) = svc["status"]["loadBalancer"]["ingress"]
    assert ingress["ip"].startswith(net.state.network.subnet.rsplit(".", 2)[0])  # type: ignore[union-attr]
    client = net.pod_netns(pods["lb-client"])

    # ClusterIP from a pod: both endpoints answer, and the pod keeps its own address.
    seen: set[str] = set()

    def both_answer() -> bool:
        for reply in send_from(client, cluster_ip, 80, count=10):
            name, peer = reply.split()
            assert peer == pods["lb-client"]["status"]["podIP"]
            seen.add(name)
        return seen == {"lb-a", "lb-b"}

    wait_for("both endpoints behind the cluster IP", both_answer)
    # A pod reaching itself through its Service (hairpin) is answered too.
    own = net.pod_netns(pods["lb-a"])
    assert len(wait_for("hairpin", lambda: send_from(own, cluster_ip, 80, count=10))) == 10

    # NodePort on every node, from the host and from a pod; the LoadBalancer from the host.
    for node in info.nodes:
        reply = wait_for(
            f"NodePort on {node.name} from the host",
            lambda node=node: send_from_host(node.internal_ip, node_port),  # type: ignore[misc]
        )
        assert reply.split()[0] in {"lb-a", "lb-b"}
        assert wait_for(
            f"NodePort on {node.name} from a pod",
            lambda node=node: send_from(client, node.internal_ip, node_port),  # type: ignore[misc]
        )
    reply = wait_for("the LoadBalancer from the host", lambda: send_from_host(ingress["ip"], 80))
    assert reply.split()[0] in {"lb-a", "lb-b"}

    # A pod of cluster-2 reaches cluster-1's NodePort over the sandbox network, as on kind:
    # it arrives masqueraded behind its node's address.
    other = net.clusters[1]
    remote_node = net.state.clusters[1].nodes[1]
    apply(other, client_pod("visitor", remote_node.name))
    visitor_pod = ready_pod(other, "visitor")
    visitor = net.pod_netns(visitor_pod)
    replies = wait_for(
        "cluster-2 pod to cluster-1 NodePort",
        lambda: send_from(visitor, info.nodes[0].internal_ip, node_port),
    )
    name, peer = replies[0].split()
    assert name in {"lb-a", "lb-b"}
    assert peer != visitor_pod["status"]["podIP"]


def _names(netns: str, address: str, port: int, count: int = 20) -> set[str]:
    return {reply.split()[0] for reply in send_from(netns, address, port, count=count)}


def test_scaling_a_deployment_moves_traffic_and_not_ready_pods_get_none(net: Net) -> None:
    cluster = net.clusters[0]
    info = net.state.clusters[0]
    template = echo_pod("x", app="scaled")
    metadata = {k: template["metadata"][k] for k in ("labels", "annotations")}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "scaled", "namespace": "net"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "scaled"}},
            "template": {"metadata": metadata, "spec": template["spec"]},
        },
    }
    unready = echo_pod("unready", info.nodes[1].name, app="scaled")
    unready["spec"]["containers"][0]["readinessProbe"] = {
        "exec": {"command": ["false"]},
        "periodSeconds": 1,
    }
    apply(cluster, deployment, unready, service("scaled"), client_pod("scaler", info.nodes[2].name))
    client = net.pod_netns(ready_pod(cluster, "scaler"))
    cluster_ip = get_json(cluster, "service", "-n", "net", "scaled")["spec"]["clusterIP"]

    def pods() -> set[str]:
        items = get_json(cluster, "pods", "-n", "net", "-l", "app=scaled")["items"]
        return {p["metadata"]["name"] for p in items if p["metadata"]["name"] != "unready"}

    def slice_endpoints() -> dict[str, bool]:
        items = get_json(
            cluster, "endpointslices", "-n", "net", "-l", "kubernetes.io/service-name=scaled"
        )["items"]
        return {
            e["targetRef"]["name"]: e["conditions"]["ready"]
            for s in items
            for e in s.get("endpoints") or []
        }

    first = wait_for(
        "one replica serving", lambda: len(_names(client, cluster_ip, 80)) == 1 and pods()
    )
    # The not-ready pod is an endpoint, marked not ready, and never receives a connection.
    wait_for("the unready endpoint listed", lambda: slice_endpoints().get("unready") is False)
    assert _names(client, cluster_ip, 80, count=30) == first

    cluster.kubectl("scale", "deployment", "-n", "net", "scaled", "--replicas=3")
    three = wait_for("three replicas", lambda: len(p := pods()) == 3 and p)
    wait_for("new endpoints receive traffic", lambda: _names(client, cluster_ip, 80, 30) == three)

    cluster.kubectl("scale", "deployment", "-n", "net", "scaled", "--replicas=1")
    remaining = wait_for("one replica left", lambda: len(p := pods()) == 1 and p)
    wait_for(
        "deleted endpoints stop receiving traffic",
        lambda: _names(client, cluster_ip, 80, 30) == remaining,
    )
    assert "unready" not in _names(client, cluster_ip, 80, 30)


QUERY = """
import socket, struct, sys
from liqo_core.sandbox.dns import encode_name
server, name, qtype = sys.argv[1], sys.argv[2], int(sys.argv[3])
header = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
query = header + encode_name(name) + struct.pack("!HH", qtype, 1)
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as conn:
    conn.settimeout(3)
    conn.connect((server, 53))
    conn.sendall(struct.pack("!H", len(query)) + query)
    size = struct.unpack("!H", conn.recv(2))[0]
    reply = b""
    while len(reply) < size:
        reply += conn.recv(size - len(reply))
rcode, count = reply[3] & 0xF, struct.unpack("!H", reply[6:8])[0]
offset, records = 12 + len(encode_name(name)) + 4, []
def skip_name(at):
    while reply[at]:
        if reply[at] & 0xC0:
            return at + 2
        at += reply[at] + 1
    return at + 1
for _ in range(count):
    offset = skip_name(offset)
    kind, _, _, length = struct.unpack("!HHIH", reply[offset:offset + 10])
    data = reply[offset + 10:offset + 10 + length]
    offset += 10 + length
    if kind == 1:
        records.append(socket.inet_ntoa(data))
    elif kind == 33:
        port = struct.unpack("!H", data[4:6])[0]
        labels, at = [], 6
        while data[at]:
            labels.append(data[at + 1:at + 1 + data[at]].decode())
            at += data[at] + 1
        records.append(f"{port} {'.'.join(labels)}")
print(rcode, " ".join(sorted(records)))
"""
RESOLVE = """
import socket, sys
print(" ".join(sorted({a[4][0] for a in socket.getaddrinfo(sys.argv[1], 80, socket.AF_INET)})))
"""


def query(net: Net, netns: str, name: str, qtype: int) -> str:
    dns = net.state.clusters[0].service_cidr.rsplit(".", 2)[0] + ".0.10"
    command = ["ip", "netns", "exec", netns, sys.executable, "-c", QUERY, dns, name, str(qtype)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_cluster_dns_names_services_and_headless_endpoints(net: Net) -> None:
    cluster = net.clusters[0]
    info = net.state.clusters[0]
    headless = service("peers", clusterIP="None")
    apply(
        cluster,
        echo_pod("peer-a", info.nodes[1].name, app="peers"),
        echo_pod("peer-b", info.nodes[2].name, app="peers"),
        headless,
        service("named"),
        echo_pod("named-0", info.nodes[1].name, app="named"),
        client_pod("asker", info.nodes[2].name),
    )
    peers = {name: ready_pod(cluster, name)["status"]["podIP"] for name in ("peer-a", "peer-b")}
    ready_pod(cluster, "named-0")
    asker = net.pod_netns(ready_pod(cluster, "asker"))
    dns = get_json(cluster, "service", "-n", "kube-system", "kube-dns")
    assert dns["spec"]["clusterIP"] == info.service_cidr.rsplit(".", 2)[0] + ".0.10"
    named_ip = get_json(cluster, "service", "-n", "net", "named")["spec"]["clusterIP"]
    domain = "svc.cluster.local"

    assert wait_for(
        "A of a Service", lambda: query(net, asker, f"named.net.{domain}", 1) == f"0 {named_ip}"
    )
    both = " ".join(sorted(peers.values()))
    wait_for(
        "A of a headless Service: its endpoints",
        lambda: query(net, asker, f"peers.net.{domain}", 1) == f"0 {both}",
    )
    dashed = peers["peer-a"].replace(".", "-")
    assert query(net, asker, f"{dashed}.peers.net.{domain}", 1) == f"0 {peers['peer-a']}"
    assert query(net, asker, f"_echo._tcp.named.net.{domain}", 33) == f"0 80 named.net.{domain}"
    srv = query(net, asker, f"_echo._tcp.peers.net.{domain}", 33)
    assert srv == "0 " + " ".join(
        sorted(f"{PORT} {ip.replace('.', '-')}.peers.net.{domain}" for ip in peers.values())
    )
    assert query(net, asker, f"missing.net.{domain}", 1) == "3"

    # A process pod resolves short names through its resolv.conf's search path, and reaches
    # the Service by name over the cluster IP.
    check = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "resolver",
            "namespace": "net",
            "annotations": {"sandbox.liqo.io/runner": "process"},
        },
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "c",
                    "image": "python",
                    "command": ["python", "-c", RESOLVE + CLIENT, "named", "80", "dns-ok", "1"],
                }
            ],
        },
    }
    apply(cluster, check)

    def finished() -> dict[str, Any] | None:
        pod = get_json(cluster, "pod", "-n", "net", "resolver")
        phase = pod.get("status", {}).get("phase")
        return dict(pod) if phase in ("Succeeded", "Failed") else None

    pod = wait_for("the resolver pod to finish", finished, timeout=60)
    log = net.sandbox.directory / info.name / "logs" / "net_resolver_c.log"
    lines = log.read_text().splitlines()
    assert pod["status"]["phase"] == "Succeeded", lines
    assert lines[-2:] == [named_ip, "named-0 " + pod["status"]["podIP"] + " dns-ok"]


def host_listing() -> dict[str, set[str]]:
    """What the host's network namespace holds: namespaces, links, addresses, routes, tables."""

    def run(*command: str) -> str:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    links = json.loads(run("ip", "-j", "addr"))
    netns_dir = Path("/var/run/netns")
    return {
        "netns": {p.name for p in netns_dir.iterdir()} if netns_dir.is_dir() else set(),
        "links": {link["ifname"] for link in links},
        "addresses": {a["local"] for link in links for a in link.get("addr_info") or []},
        "routes": {
            json.dumps(r, sort_keys=True)
            for r in json.loads(run("ip", "-j", "route", "show", "table", "all"))
        },
        "nft tables": set(run("nft", "list", "tables").splitlines()),
    }


def test_down_leaves_the_host_as_it_was(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "sb")
    prefix = sandbox_prefix(sandbox.directory)
    bridge = prefix.replace("-", "")

    def mine(listing: dict[str, set[str]]) -> dict[str, set[str]]:
        foreign = ("lsb",)
        return {
            key: {
                item
                for item in items
                if prefix in item or bridge in item or not item.startswith(foreign)
            }
            for key, items in listing.items()
        }

    before = mine(host_listing())
    state = sandbox.up(clusters=1)
    try:
        network = state.network
        assert network is not None
        during = mine(host_listing())
        assert network.bridge in during["links"] and network.host_address in during["addresses"]
        assert {n.netns for n in state.clusters[0].nodes} <= during["netns"]
        cluster = ClusterHandle("cluster-1", Path(state.clusters[0].kubeconfig))
        cluster.kubectl("create", "namespace", "net")
        apply(cluster, echo_pod("lb-pod", app="gone"), service("gone", "LoadBalancer"))
        ready_pod(cluster, "lb-pod")
        svc = wait_for(
            "a LoadBalancer address",
            lambda: (
                get_json(cluster, "service", "-n", "net", "gone")["status"]
                .get("loadBalancer", {})
                .get("ingress")
            ),
        )
        assert wait_for("the LoadBalancer answers", lambda: send_from_host(svc[0]["ip"], 80))
    finally:
        sandbox.down()
    after = mine(host_listing())
    leftovers = {key: after[key] - before[key] for key in after}
    assert leftovers == {key: set() for key in after}
    assert list_netns(prefix) == []


def test_without_pod_networks_pods_share_the_host_network(tmp_path: Path) -> None:
    """What a user without root gets (forced here with ``pod_networks=False``)."""
    sandbox = Sandbox(tmp_path / "plain")
    state = sandbox.up(clusters=1, pod_networks=False)
    try:
        assert state.network is None and state.network_note == "pod networks turned off"
        assert list_netns(state.netns_prefix) == []
        info = state.clusters[0]
        assert [n.internal_ip for n in info.nodes] == ["127.101.0.2", "127.101.0.3"]
        cluster = ClusterHandle(info.name, Path(info.kubeconfig))
        cluster.kubectl("create", "namespace", "net")
        apply(cluster, echo_pod("plain", info.nodes[1].name))
        address = ready_pod(cluster, "plain")["status"]["podIP"]
        assert address == info.nodes[1].internal_ip
        reply = wait_for("the pod answers on the host", lambda: send_from_host(address, PORT))
        assert reply.split()[0] == "plain"
        assert get_json(cluster, "service", "-n", "kube-system", "kube-dns") is None
    finally:
        sandbox.down()
