"""The sandbox network: how long networked pods take to start, and what pod-to-pod TCP
across nodes costs next to a bare veth pair (root; iperf3).

- **start N networked pods on 3 nodes**: one cluster (control plane + 2 workers); N hollow
  pods annotated ``sandbox.liqo.io/netns: "true"`` pinned round-robin to the three nodes,
  created through the API eight at a time; the clock stops when the API shows all of them
  Ready with an IP (each has its namespace, veth and routes by then). Pods per second is N
  over that time.
- **TCP pod to pod across nodes**: ``iperf3`` (one stream, 5 s, 1 s in quick mode) from a
  pod on one worker to a pod on the other: pod veth → node → bridge → node → pod veth,
  through each node's nftables (kindnet, kube-proxy).
- **TCP over one veth pair**: the same ``iperf3`` between two fresh namespaces joined by a
  single veth pair, in the same run: the ceiling of the machine.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liqo_core.sandbox import Sandbox
from liqo_core.sandbox.netns import pod_netns_name

#: Seconds between two looks at the API.
POLL = 0.2


@dataclass(frozen=True)
class Row:
    """One measured figure."""

    name: str
    value: float
    unit: str
    note: str = ""


def _kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, *args],
        input=stdin, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    return result.stdout


def _pod(name: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "bench",
            "annotations": {"sandbox.liqo.io/netns": "true"},
        },
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "pause"}]},
    }


def _ready(kubeconfig: str) -> dict[str, dict[str, Any]]:
    items = json.loads(_kubectl(kubeconfig, "get", "pods", "-n", "bench", "-o", "json"))["items"]
    return {
        p["metadata"]["name"]: p
        for p in items
        if p["status"].get("podIP")
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions") or []
        )
    }


def _iperf(server_ns: str, server_ip: str, client_ns: str, seconds: int) -> float:
    """Gbit/s of one iperf3 stream from ``client_ns`` to ``server_ip`` in ``server_ns``."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1", "-B", server_ip],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            result = subprocess.run(
                ["ip", "netns", "exec", client_ns, "iperf3", "-c", server_ip, "-t", str(seconds),
                 "-J"],
                capture_output=True, text=True, check=False, timeout=seconds + 30,
            )  # fmt: skip
            report = json.loads(result.stdout or "{}")
            received = (report.get("end") or {}).get("sum_received")
            if received:
                return float(received["bits_per_second"]) / 1e9
            if time.monotonic() > deadline:
                raise RuntimeError(f"iperf3 to {server_ip}: {report.get('error', result.stderr)}")
            time.sleep(POLL)  # the server is not listening yet
    finally:
        server.kill()
        server.wait()


def _veth_alone(seconds: int, mtu: int) -> float:
    tag = secrets.token_hex(3)
    a, b = f"lsbbench-{tag}-a", f"lsbbench-{tag}-b"
    try:
        for name in (a, b):
            subprocess.run(["ip", "netns", "add", name], check=True)
        subprocess.run(
            ["ip", "-n", a, "link", "add", "eth0", "mtu", str(mtu), "type", "veth", "peer",
             "name", "eth0", "mtu", str(mtu), "netns", b],
            check=True,
        )  # fmt: skip
        for name, address in ((a, "192.168.250.1/30"), (b, "192.168.250.2/30")):
            batch = f"link set lo up\naddr add {address} dev eth0\nlink set eth0 up\n"
            subprocess.run(["ip", "-n", name, "-batch", "-"], input=batch, text=True, check=True)
        return _iperf(b, "192.168.250.2", a, seconds)
    finally:
        for name in (a, b):
            subprocess.run(["ip", "netns", "delete", name], check=False)


def run(quick: bool = False) -> list[Row]:
    """Measure; returns the rows."""
    count, seconds = (30, 1) if quick else (200, 5)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="liqo-bench-net-") as tmp:
        sandbox = Sandbox(Path(tmp) / "sb")
        state = sandbox.up(clusters=1, workers=2)
        try:
            assert state.network is not None, state.network_note
            info = state.clusters[0]
            kubeconfig = info.kubeconfig
            nodes = [n.name for n in info.nodes]
            _kubectl(kubeconfig, "create", "namespace", "bench")
            manifests = [json.dumps(_pod(f"p{i}", nodes[i % len(nodes)])) for i in range(count)]
            began = time.monotonic()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda m: _kubectl(kubeconfig, "create", "-f", "-", stdin=m),
                              manifests))  # fmt: skip
            ready = _ready(kubeconfig)
            while len(ready) < count:
                time.sleep(POLL)
                ready = _ready(kubeconfig)
            elapsed = time.monotonic() - began
            rows.append(Row(f"start {count} networked pods on 3 nodes", elapsed, "s",
                            f"{count / elapsed:.0f} pods/s"))  # fmt: skip
            first, second = ready["p1"], ready["p2"]  # on the two workers
            pod_rate = _iperf(
                pod_netns_name(state.netns_prefix, second["metadata"]["uid"]),
                second["status"]["podIP"],
                pod_netns_name(state.netns_prefix, first["metadata"]["uid"]),
                seconds,
            )
            veth_rate = _veth_alone(seconds, state.network.mtu)
            rows.append(Row("TCP pod to pod across nodes (iperf3, 1 stream)", pod_rate,
                            "Gbit/s", f"{pod_rate / veth_rate:.0%} of one veth pair"))  # fmt: skip
            rows.append(Row("TCP over one veth pair (same run)", veth_rate, "Gbit/s"))
        finally:
            sandbox.down()
    return rows


def table(rows: list[Row]) -> str:
    """A Markdown table of the rows."""
    lines = ["| benchmark | value | notes |", "|---|---:|---|"]
    lines += [f"| {r.name} | {r.value:.2f} {r.unit} | {r.note} |" for r in rows]
    return "\n".join(lines)
