"""The sandbox supervisor: a detached process owning the emulators and every agent.

``python -m liqo_core.sandbox.supervisor --dir D --clusters N`` starts the API
emulators, then a :class:`~liqo_core.sandbox.agent.ClusterAgent` per cluster, with
``--chart PATH`` installs Liqo in every cluster (:mod:`liqo_core.sandbox.liqo`), and
reports progress and readiness in ``D/sandbox.json``. As root it first builds the sandbox
network and a network namespace per node (:mod:`topology`; ``--mtu``,
``--network-hollow-pods``), and every emulator dials admission webhooks from its
cluster's control-plane node. SIGTERM or SIGINT stops the pods' processes, the agents and
the emulators and deletes the sandbox's namespaces and links.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from liqo_core.sandbox import liqo, netns, topology
from liqo_core.sandbox.agent import ClusterAgent
from liqo_core.sandbox.emulators import Emulator
from liqo_core.sandbox.state import SandboxState, plan_cluster

log = logging.getLogger("liqo.sandbox")


def summarise(err: BaseException) -> str:
    """One line for a possibly multi-line error: its first and last lines."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"


class Supervisor:
    """Brings the sandbox up, keeps it running, and tears it down on a signal."""

    def __init__(
        self,
        directory: Path,
        clusters: int,
        workers: int = 1,
        chart: Path | None = None,
        *,
        mtu: int = topology.DEFAULT_MTU,
        network_hollow_pods: bool = False,
        pod_networks: bool = True,
    ) -> None:
        self.directory = directory
        self.chart = chart
        prefix = netns.sandbox_prefix(directory)
        reason = topology.unavailable_reason() if pod_networks else "pod networks turned off"
        network = None
        if reason is None:
            topology.sweep(prefix)  # a previous sandbox's leftovers first: their subnet is free
            network = topology.plan_network(prefix, mtu, network_hollow_pods)
        self.state = SandboxState(
            directory=str(directory),
            pid=os.getpid(),
            netns_prefix=prefix,
            clusters=[
                plan_cluster(directory, i, workers, network, prefix) for i in range(1, clusters + 1)
            ],
            network=network,
            network_note=reason or "",
        )
        self.emulators: list[Emulator] = []
        self.agents: list[ClusterAgent] = []
        self.stop_requested = asyncio.Event()

    def progress(self, message: str, phase: str | None = None) -> None:
        """Record progress in sandbox.json (read by ``liqoctl sandbox up``)."""
        log.info("%s", message)
        self.state.message = message
        if phase:
            self.state.phase = phase
        self.state.save()

    async def up(self) -> None:
        """Start emulators and agents."""
        await netns.delete_all(self.state.netns_prefix)
        network = self.state.network
        if network is None:
            log.warning("%s", self.state.network_note)
        else:
            self.progress(f"creating the sandbox network {network.bridge} ({network.subnet})")
            await topology.create_bridge(network)
            for info in self.state.clusters:
                for node in info.nodes:
                    await topology.create_node(network, node.netns, node.name, node.internal_ip)
        for info in self.state.clusters:
            self.progress(f"starting the API server of {info.name}")
            control_plane = next((n for n in info.nodes if n.control_plane and n.netns), None)
            emulator = Emulator(
                info,
                self.directory / info.name,
                webhook_netns=str(netns.NETNS_DIR / control_plane.netns) if control_plane else None,
            )
            self.emulators.append(emulator)
            await emulator.start()
        for info in self.state.clusters:
            self.progress(f"starting nodes, controllers and kubelets of {info.name}")
            peers = [other for other in self.state.clusters if other is not info]
            agent = ClusterAgent(
                info,
                self.directory / info.name,
                self.state.netns_prefix,
                peers=peers,
                network=self.state.network,
            )
            self.agents.append(agent)
            await agent.start()
        if self.chart is not None:
            await self.install_liqo(self.chart)
        self.progress(f"{len(self.state.clusters)} cluster(s) ready", phase="Ready")

    async def install_liqo(self, chart: Path) -> None:
        """Install Liqo in every cluster, then wait for every controller-manager."""
        for agent in self.agents:
            assert agent.kube is not None
            await liqo.install_liqo(
                agent.kube,
                agent.info,
                chart,
                self.directory / agent.info.name,
                self.progress,
                webhooks=self.state.network is not None,
            )
        await asyncio.gather(
            *(
                liqo.wait_controller_manager(agent.kube, self.progress, agent.info.name)
                for agent in self.agents
                if agent.kube is not None
            )
        )

    async def down(self) -> None:
        """Stop everything this supervisor started."""
        self.progress("stopping", phase="Stopping")
        for agent in self.agents:
            try:
                await asyncio.wait_for(agent.stop(), 30)
            except Exception:
                log.exception("stopping the agent of %s", agent.info.name)
        for emulator in self.emulators:
            try:
                await asyncio.wait_for(emulator.stop(), 30)
            except Exception:
                log.exception("stopping the emulator of %s", emulator.info.name)
        await asyncio.to_thread(topology.sweep, self.state.netns_prefix)
        self.state.pid = None
        self.progress("stopped", phase="Stopped")

    async def run(self) -> int:
        """Up, wait for a signal, down; returns the exit code."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_requested.set)
        code = 0
        try:
            up = asyncio.create_task(self.up())
            stop = asyncio.create_task(self.stop_requested.wait())
            await asyncio.wait({up, stop}, return_when=asyncio.FIRST_COMPLETED)
            if up.done():
                up.result()
                await stop
            else:
                up.cancel()
        except Exception as err:
            log.exception("sandbox failed")
            self.progress(f"{type(err).__name__}: {summarise(err)}", phase="Failed")
            code = 1
        failed = self.state.phase == "Failed"
        message = self.state.message
        await self.down()
        if failed:
            self.progress(message, phase="Failed")
        return code


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m liqo_core.sandbox.supervisor")
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--clusters", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--chart", type=Path, help="install Liqo from this chart")
    parser.add_argument("--mtu", type=int, default=topology.DEFAULT_MTU, help="node MTU")
    parser.add_argument(
        "--network-hollow-pods",
        action="store_true",
        help="give every hollow pod a network namespace (not only annotated ones)",
    )
    parser.add_argument(
        "--no-pod-networks", action="store_true", help="no pod networks, even as root"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    directory: Path = args.dir.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    chart: Path | None = args.chart.resolve() if args.chart else None
    supervisor = Supervisor(
        directory,
        args.clusters,
        args.workers,
        chart,
        mtu=args.mtu,
        network_hollow_pods=args.network_hollow_pods,
        pod_networks=not args.no_pod_networks,
    )
    return asyncio.run(supervisor.run())


if __name__ == "__main__":
    sys.exit(main())
