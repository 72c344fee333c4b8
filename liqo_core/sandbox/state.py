"""The sandbox's on-disk description: ``<dir>/sandbox.json`` and each cluster's layout."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from liqo_core.sandbox.ipam import node_pod_cidr
from liqo_core.sandbox.nodes import NodeSpec
from liqo_core.sandbox.topology import NetworkInfo, node_address, node_netns_name

STATE_FILE = "sandbox.json"


@dataclass
class ClusterInfo:
    """One sandbox cluster: identity, address ranges, kubeconfig and physical nodes."""

    name: str
    cluster_id: str
    pod_cidr: str
    service_cidr: str
    kubeconfig: str
    server: str = ""
    emulator_pid: int | None = None
    nodes: list[NodeSpec] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """camelCase JSON, as written to sandbox.json and the cluster-info ConfigMap."""
        return {
            "name": self.name,
            "clusterID": self.cluster_id,
            "podCIDR": self.pod_cidr,
            "serviceCIDR": self.service_cidr,
            "kubeconfig": self.kubeconfig,
            "server": self.server,
            "emulatorPid": self.emulator_pid,
            "nodes": [asdict(node) for node in self.nodes],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterInfo:
        """Inverse of :meth:`to_json`."""
        return cls(
            name=data["name"],
            cluster_id=data["clusterID"],
            pod_cidr=data["podCIDR"],
            service_cidr=data["serviceCIDR"],
            kubeconfig=data["kubeconfig"],
            server=data.get("server", ""),
            emulator_pid=data.get("emulatorPid"),
            nodes=[NodeSpec(**node) for node in data.get("nodes") or []],
        )


def plan_cluster(
    directory: Path,
    index: int,
    workers: int = 1,
    network: NetworkInfo | None = None,
    netns_prefix: str = "",
) -> ClusterInfo:
    """Cluster ``index`` (1-based): ``cluster-<i>``, pod CIDR ``10.(100+i).0.0/16``, service
    CIDR ``10.(200+i).0.0/16``, nodes ``<name>-control-plane`` and ``<name>-worker[N]`` with
    podCIDRs ``10.(100+i).<n>.0/24``.

    With a ``network`` (root), each node is a network namespace with InternalIP
    ``<a>.<b>.<i>.<n+2>`` on the shared sandbox network (see :mod:`topology`); without,
    InternalIPs are ``127.(100+i).0.<n+2>`` (loopback, so host-network pods are reachable
    at their pod IP)."""
    if not 1 <= index <= 54:
        raise ValueError("the sandbox supports 1 to 54 clusters")
    name = f"cluster-{index}"
    pod_cidr = f"10.{100 + index}.0.0/16"
    node_names = [f"{name}-control-plane"] + [
        f"{name}-worker" if n == 1 else f"{name}-worker{n}" for n in range(1, workers + 1)
    ]
    nodes = [
        NodeSpec(
            name=node,
            pod_cidr=node_pod_cidr(pod_cidr, n),
            internal_ip=(
                node_address(network, index, n) if network else f"127.{100 + index}.0.{n + 2}"
            ),
            control_plane=n == 0,
            netns=node_netns_name(netns_prefix, node) if network else "",
        )
        for n, node in enumerate(node_names)
    ]
    return ClusterInfo(
        name=name,
        cluster_id=name,
        pod_cidr=pod_cidr,
        service_cidr=f"10.{200 + index}.0.0/16",
        kubeconfig=str(directory / name / "kubeconfig"),
        nodes=nodes,
    )


@dataclass
class SandboxState:
    """Contents of sandbox.json."""

    directory: str
    phase: str = "Starting"  # Starting, Ready, Failed, Stopping, Stopped
    pid: int | None = None
    netns_prefix: str = ""
    message: str = ""
    clusters: list[ClusterInfo] = field(default_factory=list)
    network: NetworkInfo | None = None
    """The shared sandbox network (None: no pod networks, see :attr:`network_note`)."""
    network_note: str = ""
    """Why there are no pod networks, in one line (empty when there are)."""

    def to_json(self) -> dict[str, Any]:
        """The JSON document."""
        return {
            "directory": self.directory,
            "phase": self.phase,
            "pid": self.pid,
            "netnsPrefix": self.netns_prefix,
            "message": self.message,
            "clusters": [cluster.to_json() for cluster in self.clusters],
            "network": self.network.to_json() if self.network else None,
            "networkNote": self.network_note,
        }

    def save(self) -> None:
        """Write atomically to ``<directory>/sandbox.json``."""
        path = Path(self.directory) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, directory: Path) -> SandboxState | None:
        """Read ``<directory>/sandbox.json`` (None if absent or unreadable)."""
        try:
            data = json.loads((directory / STATE_FILE).read_text())
        except (OSError, ValueError):
            return None
        return cls(
            directory=data.get("directory", str(directory)),
            phase=data.get("phase", ""),
            pid=data.get("pid"),
            netns_prefix=data.get("netnsPrefix", ""),
            message=data.get("message", ""),
            clusters=[ClusterInfo.from_json(c) for c in data.get("clusters") or []],
            network=NetworkInfo.from_json(data["network"]) if data.get("network") else None,
            network_note=data.get("networkNote", ""),
        )
