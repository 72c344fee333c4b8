"""``python -m liqo_core.sandbox.apiserver``: run one emulated cluster's API server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from .security import Security
from .server import DEFAULT_SERVICE_CIDR, APIServer

log = logging.getLogger("liqo_core.sandbox.apiserver")


async def _watch_parent(stop: asyncio.Event) -> None:
    parent = os.getppid()
    while os.getppid() == parent:  # noqa: ASYNC110 - no event exists for a parent's death
        await asyncio.sleep(1.0)
    log.warning("parent process %d is gone; stopping", parent)
    stop.set()


async def serve(  # noqa: PLR0917 - mirrors the command line
    name: str,
    state_dir: Path,
    host: str,
    port: int,
    exit_with_parent: bool = False,
    service_cidr: str = DEFAULT_SERVICE_CIDR,
    webhook_netns: str | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT; ``state_dir/kubeconfig`` appears once ready."""
    kubeconfig = _prepare(state_dir)
    server = APIServer(service_cidr=service_cidr)
    security = Security(state_dir, name, server.internal, webhook_netns=webhook_netns)
    server.set_security(security)
    await server.start()
    runner = web.AppRunner(server.app(), handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=security.server_ssl_context())
    await site.start()
    actual_port = runner.addresses[0][1]
    url_host = f"[{host}]" if ":" in host else host
    server_url = f"https://{url_host}:{actual_port}"
    tmp = state_dir / "kubeconfig.tmp"
    security.write_kubeconfig(tmp, server_url)
    os.replace(tmp, kubeconfig)
    (state_dir / "apiserver.pid").write_text(f"{os.getpid()}\n")
    log.info("cluster %s serving on %s", name, server_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watchdog = asyncio.create_task(_watch_parent(stop)) if exit_with_parent else None
    try:
        await stop.wait()
    finally:
        if watchdog is not None:
            watchdog.cancel()
        await runner.cleanup()
        await server.stop()
        with contextlib.suppress(FileNotFoundError):
            (state_dir / "apiserver.pid").unlink()


def _prepare(state_dir: Path) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    kubeconfig = state_dir / "kubeconfig"
    with contextlib.suppress(FileNotFoundError):
        kubeconfig.unlink()
    return kubeconfig


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m liqo_core.sandbox.apiserver",
        description="Kubernetes API emulator: one in-memory API server over HTTPS.",
    )
    parser.add_argument("--name", required=True, help="cluster name (kubeconfig context)")
    parser.add_argument("--state-dir", required=True, type=Path, help="PKI, kubeconfig, logs")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument(
        "--service-cidr",
        default=DEFAULT_SERVICE_CIDR,
        help="range of Services' cluster IPs (kube-apiserver's --service-cluster-ip-range)",
    )
    parser.add_argument(
        "--webhook-netns",
        help="network namespace (a /run/netns file) to dial admission webhooks from, as "
        "kube-apiserver dials them from its control-plane node (needs root)",
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one exits (no leaked servers)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(
        serve(
            args.name,
            args.state_dir,
            args.host,
            args.port,
            args.exit_with_parent,
            args.service_cidr,
            args.webhook_netns,
        )
    )
    return 0
