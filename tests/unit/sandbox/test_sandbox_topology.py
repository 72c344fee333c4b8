"""The sandbox network for real: bridge, node namespaces, the CNI, kindnet's routes and
masquerade, the node-side API forwarder, and the sweep that removes it all."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from liqo_core.sandbox import apiproxy, kindnet, netns, topology
from liqo_core.sandbox.cni import PodNetwork
from liqo_core.sandbox.nodes import NodeSpec
from liqo_core.sandbox.state import SandboxState, plan_cluster

pytestmark = pytest.mark.functional

ECHO = (
    "import socket, sys\n"
    "s = socket.create_server(('0.0.0.0', int(sys.argv[1])))\n"
    "print('ready', flush=True)\n"
    "c, peer = s.accept()\n"
    "c.sendall(peer[0].encode() + b' ' + c.recv(100))\n"
)
SEND = (
    "import socket, sys\n"
    "c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)\n"
    "c.sendall(b'payload')\n"
    "sys.stdout.write(c.recv(200).decode())\n"
)


def test_plan_and_state_round_trip(tmp_path: Path) -> None:
    network = topology.NetworkInfo("lsbabcdef", "172.20.0.0/16", "172.20.0.1", 1400, True)
    cluster = plan_cluster(tmp_path, 2, workers=2, network=network, netns_prefix="lsb-abcdef")
    assert [n.internal_ip for n in cluster.nodes] == ["172.20.2.2", "172.20.2.3", "172.20.2.4"]
    assert [n.netns for n in cluster.nodes] == [
        "lsb-abcdef-cluster-2-control-plane",
        "lsb-abcdef-cluster-2-worker",
        "lsb-abcdef-cluster-2-worker2",
    ]
    assert topology.load_balancer_addresses(network, 2)[:2] == ["172.20.2.200", "172.20.2.201"]
    assert plan_cluster(tmp_path, 1).nodes[0].internal_ip == "127.101.0.2"
    state = SandboxState(str(tmp_path), netns_prefix="lsb-abcdef", clusters=[cluster],
                         network=network)  # fmt: skip
    state.save()
    assert SandboxState.load(tmp_path) == state
    assert len(topology.host_link_name("lsbabcdef", "cluster-54-worker20")) <= 15


def test_routes_are_a_difference() -> None:
    nodes = [
        {
            "metadata": {"name": name},
            "spec": {"podCIDR": cidr},
            "status": {"addresses": [{"type": "InternalIP", "address": address}]},
        }
        for name, cidr, address in [
            ("a", "10.1.0.0/24", "172.20.1.2"),
            ("b", "10.1.1.0/24", "172.20.1.3"),
            ("virtual", "10.1.9.0/24", "10.200.0.7"),  # not on the sandbox network
        ]
    ]
    desired = kindnet.desired_routes(nodes, "a", "172.20.0.0/16")
    assert desired == {"10.1.1.0/24": "172.20.1.3"}
    actual = {"10.1.1.0/24": "172.20.1.9", "10.1.5.0/24": "172.20.1.5"}
    assert kindnet.route_commands(desired, actual) == [
        "route replace 10.1.1.0/24 via 172.20.1.3 proto 77",
        "route del 10.1.5.0/24 proto 77",
    ]
    assert kindnet.route_commands(desired, desired) == []


@pytest.fixture
async def two_nodes(tmp_path: Path) -> AsyncIterator[tuple[topology.NetworkInfo, list[NodeSpec]]]:
    prefix = netns.sandbox_prefix(tmp_path)
    network = topology.plan_network(prefix, mtu=1400)
    nodes = [
        NodeSpec(
            name=f"n{i}",
            pod_cidr=f"10.250.{i}.0/24",
            internal_ip=topology.node_address(network, 1, i),
            netns=topology.node_netns_name(prefix, f"n{i}"),
        )
        for i in range(2)
    ]
    try:
        await topology.create_bridge(network)
        for node in nodes:
            await topology.create_node(network, node.netns, node.name, node.internal_ip)
        yield network, nodes
    finally:
        await asyncio.to_thread(topology.sweep, prefix)
        assert netns.list_netns(prefix) == [] and topology.host_links(network.bridge) == []


async def _exec(namespace: str, script: str, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", namespace, sys.executable, "-c", script, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_pods_on_two_nodes_talk_and_leave_masqueraded(
    two_nodes: tuple[topology.NetworkInfo, list[NodeSpec]], tmp_path: Path
) -> None:
    network, nodes = two_nodes
    cluster_cidr = "10.250.0.0/16"
    node_objects = [
        {
            "metadata": {"name": n.name},
            "spec": {"podCIDR": n.pod_cidr},
            "status": {"addresses": [{"type": "InternalIP", "address": n.internal_ip}]},
        }
        for n in nodes
    ]
    for node in nodes:
        lines = kindnet.route_commands(
            kindnet.desired_routes(node_objects, node.name, network.subnet), {}
        )
        await netns.ip("-n", node.netns, "-batch", "-", stdin="\n".join(lines))
        await topology.run_in(
            node.netns, "nft", "-f", "-", stdin=kindnet.masquerade_ruleset(cluster_cidr)
        )
    pods = PodNetwork(netns.sandbox_prefix(tmp_path), network.mtu)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    ns_a = await pods.add_pod(a, "10.250.0.2", nodes[0])
    ns_b = await pods.add_pod(b, "10.250.1.2", nodes[1])
    shown = json.loads(await netns.ip("-n", ns_a, "-j", "link", "show", "eth0"))
    assert shown[0]["mtu"] == 1400

    # Pod to pod across nodes: real TCP, the peer sees the pod's own address.
    server = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", ns_b, sys.executable, "-c", ECHO, "7001",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert server.stdout is not None
    assert await asyncio.wait_for(server.stdout.readline(), 10) == b"ready\n"
    assert await _exec(ns_a, SEND, "10.250.1.2", "7001") == "10.250.0.2 payload"
    await server.wait()

    # Pod to the host: masqueraded to its node's address, as kindnet does.
    listener = await asyncio.start_server(_answer, host=network.host_address, port=0)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        reply = await _exec(ns_b, SEND, network.host_address, str(port))
    assert reply == f"{nodes[1].internal_ip} payload"

    # The node-side API forwarder: 127.0.0.1:<port> in the node reaches the host's.
    upstream = await asyncio.start_server(_answer, host="127.0.0.1", port=0)
    up_port = upstream.sockets[0].getsockname()[1]
    servers = await apiproxy.serve_in_netns(
        str(netns.NETNS_DIR / nodes[0].netns), [(up_port, "127.0.0.1", up_port)]
    )
    try:
        async with upstream:
            assert await _exec(nodes[0].netns, SEND, "127.0.0.1", str(up_port)) == (
                "127.0.0.1 payload"
            )
    finally:
        for s in servers:
            s.close()

    await pods.remove_pod(a)
    assert ns_a not in netns.list_netns(netns.sandbox_prefix(tmp_path))


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    data = await reader.read(100)
    peer = writer.get_extra_info("peername")[0]
    writer.write(peer.encode() + b" " + data)
    await writer.drain()
    writer.close()


def test_without_root_there_are_no_pod_networks_and_one_line_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(topology.os, "geteuid", lambda: 1000)
    reason = topology.unavailable_reason()
    assert reason is not None and "\n" not in reason
    assert reason.startswith("not running as root: no pod networks")
    assert "NodePorts" in reason and "DNS" in reason
