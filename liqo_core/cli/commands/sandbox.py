"""``liqoctl sandbox up|status|down``: a local multi-cluster playground (docs/sandbox.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqo_core.cli.output import OUTPUT_HELP, OutputFormat, print_data, print_table

# The sandbox (emulator, process runner, Helm) loads when a sandbox command runs, so that
# `liqoctl --help` stays fast; its defaults are spelled here, and a test keeps them equal.
DEFAULT_DIR = ".sandbox"

sandbox_app = typer.Typer(
    help="Local playground: emulated clusters with nodes, scheduler and kubelets.",
    no_args_is_help=True,
)

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir", help="Directory holding the sandbox's state and kubeconfigs.", file_okay=False
    ),
]
OutputOption = Annotated[OutputFormat | None, typer.Option("--output", "-o", help=OUTPUT_HELP)]


@sandbox_app.command("up")
def up(
    *,
    clusters: Annotated[
        int, typer.Option("--clusters", min=1, max=54, help="Number of clusters.")
    ] = 2,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=20, help="Worker nodes per cluster.")
    ] = 1,
    directory: DirOption = Path(DEFAULT_DIR),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness.")] = 180.0,
    chart: Annotated[
        Path | None,
        typer.Option(
            "--chart",
            help="Liqo Helm chart to install in every cluster (default: the checkout's "
            "charts/liqo).",
            file_okay=False,
        ),
    ] = None,
    no_liqo: Annotated[
        bool, typer.Option("--no-liqo", help="Start the clusters without installing Liqo.")
    ] = False,
    mtu: Annotated[
        int, typer.Option("--mtu", min=576, max=9000, help="MTU of the nodes' network.")
    ] = 1500,
    network_hollow_pods: Annotated[
        bool,
        typer.Option(
            "--network-hollow-pods",
            help="Give every hollow (workload) pod a network namespace, not only those "
            "annotated sandbox.liqo.io/netns=true.",
        ),
    ] = False,
) -> None:
    """Start the clusters, install Liqo in each, and return once all of them are ready."""
    from rich.console import Console

    from liqo_core.sandbox import Sandbox
    from liqo_core.sandbox.liqo import default_chart

    chart = chart or default_chart()
    sandbox = Sandbox(directory)
    console = Console(stderr=True, highlight=False)
    with console.status("starting the sandbox") as spinner:
        state = sandbox.up(
            clusters,
            workers=workers,
            timeout=timeout,
            progress=spinner.update,
            chart=None if no_liqo else chart,
            mtu=mtu,
            network_hollow_pods=network_hollow_pods,
        )
    out = Console(highlight=False, soft_wrap=True)
    out.print(f"Sandbox ready in {sandbox.directory} ({len(state.clusters)} clusters):")
    for info in state.clusters:
        out.print(
            f"  {info.name}: export KUBECONFIG={info.kubeconfig}  "
            f"(pods {info.pod_cidr}, services {info.service_cidr})"
        )
    if state.network is not None:
        net = state.network
        out.print(
            f"Nodes on the sandbox network {net.subnet} (bridge {net.bridge}, this host "
            f"{net.host_address}, MTU {net.mtu}); enter one with: ip netns exec "
            f"{state.clusters[0].nodes[0].netns} bash"
        )
    else:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"Note: {state.network_note}")
    if not no_liqo:
        out.print(f"Liqo from {chart} runs in namespace liqo of every cluster.")
    out.print(f"Stop it with: liqoctl sandbox down --dir {directory}")


@sandbox_app.command("status")
def status(directory: DirOption = Path(DEFAULT_DIR), output: OutputOption = None) -> None:
    """Show each cluster, its kubeconfig, whether its API server answers and Liqo runs."""
    from liqo_core.sandbox import Sandbox

    sandbox = Sandbox(directory)
    result = sandbox.status()
    state = sandbox.state
    network = state.network if state is not None else None
    clusters = {info.name: info for info in sandbox.clusters}
    if output is not None:
        print_data(
            [
                {
                    **clusters[item.name].to_json(),
                    "reachable": item.reachable,
                    "detail": item.detail,
                    "liqoInstalled": item.liqo_installed,
                    "controllerManagerReady": item.controller_manager_ready,
                    "controllerManager": item.controller_manager,
                    "network": network.to_json() if network is not None else None,
                }
                for item in result
            ],
            output,
        )
    else:
        print_table(
            (
                "cluster",
                "reachable",
                "liqo",
                "controller-manager",
                "pod cidr",
                "service cidr",
                "kubeconfig",
                "detail",
            ),
            (
                (
                    item.name,
                    "yes" if item.reachable else "no",
                    "installed" if item.liqo_installed else "no",
                    item.controller_manager or "-",
                    clusters[item.name].pod_cidr,
                    clusters[item.name].service_cidr,
                    item.kubeconfig,
                    item.detail,
                )
                for item in result
            ),
        )
        if network is not None:
            print(
                f"\nsandbox network {network.subnet}: bridge {network.bridge}, host "
                f"{network.host_address}, MTU {network.mtu}"
            )
            print_table(
                ("node", "cluster", "internal ip", "pod cidr", "netns"),
                (
                    (node.name, info.name, node.internal_ip, node.pod_cidr, node.netns)
                    for info in clusters.values()
                    for node in info.nodes
                ),
            )
        elif state is not None and state.network_note:
            print(f"\nno pod networks: {state.network_note}")
    if not all(item.reachable for item in result):
        raise typer.Exit(1)


@sandbox_app.command("down")
def down(directory: DirOption = Path(DEFAULT_DIR)) -> None:
    """Stop every cluster, process and network namespace of the sandbox."""
    from rich.console import Console

    from liqo_core.sandbox import Sandbox, SandboxError

    sandbox = Sandbox(directory)
    if sandbox.state is None:
        raise SandboxError(f"no sandbox in {sandbox.directory}")
    with Console(stderr=True).status("stopping the sandbox"):
        was_running = sandbox.down()
    Console(highlight=False, soft_wrap=True).print(
        f"Sandbox in {sandbox.directory} stopped."
        if was_running
        else f"Sandbox in {sandbox.directory} was not running; leftovers cleaned up."
    )


def register(app: typer.Typer) -> None:
    """Add ``sandbox up``, ``sandbox status`` and ``sandbox down``."""
    app.add_typer(sandbox_app, name="sandbox")
