"""``liqo``: the entry point of Liqo's in-cluster components; the subcommand picks the role.

Flags override the config file and the environment. Problems a user can fix (settings,
plugins, kubeconfig, an unreachable cluster, a busy port) end the process with one line
on stderr and a non-zero exit code. Logs are JSON lines on stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from liqo_core._runtime.operator import CORE_OPERATOR, ControllerManager, ManagerOptions
from liqo_core._runtime.plugins import load_runtime
from liqo_core.errors import LiqoError
from liqo_core.kube import KubeConfigError, KubeTarget
from liqo_core.settings import load_settings

app = typer.Typer(
    name="liqo",
    help="Run a Liqo component. The subcommand is the role.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _roles() -> None:
    """Run a Liqo component. The subcommand is the role."""


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the object, for kopf)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict):
            entry["object"] = {k: ref[k] for k in ("kind", "namespace", "name") if ref.get(k)}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _SignalsOwnedByRuntime(logging.Filter):
    """Drop kopf's notice that it leaves OS signals alone: the runtime handles them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "OS signals are ignored" not in record.getMessage()


def configure_logging(level: str) -> None:
    """Send every log record to stderr as JSON lines, at ``level`` and above."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(_SignalsOwnedByRuntime())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Client libraries log request and response bodies (Secrets included) at debug level.
    for noisy in ("kubernetes_asyncio", "kubernetes", "aiohttp.access", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))


def default_identity() -> str:
    """``$POD_NAME`` in a pod, else ``<hostname>_<uuid>`` (controller-runtime's default)."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}_{uuid.uuid4()}"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(1)


def _overrides(
    cluster_id: str | None,
    namespace: str | None,
    health_port: int | None,
    metrics_port: int | None,
    leader_elect: bool | None,
) -> dict[str, Any]:
    """Settings given as flags, as nested keyword arguments of ``load_settings``."""
    overrides: dict[str, Any] = {}
    if cluster_id is not None:
        overrides["cluster_id"] = cluster_id
    if namespace is not None:
        overrides["namespace"] = namespace
    manager: dict[str, Any] = {}
    if health_port is not None:
        manager["health_port"] = health_port
    if metrics_port is not None:
        manager["metrics_port"] = metrics_port
    if leader_elect is not None:
        manager["leader_election"] = {"enabled": leader_elect}
    if manager:
        overrides["controller_manager"] = manager
    return overrides


async def _serve(manager: ControllerManager) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return await manager.run(stop)


@app.command("controller-manager")
def controller_manager(
    *,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML config file.", dir_okay=False)
    ] = None,
    kubeconfig: Annotated[
        Path | None,
        typer.Option("--kubeconfig", help="Kubeconfig file (default: in-cluster or ~/.kube)."),
    ] = None,
    context: Annotated[str | None, typer.Option("--context", help="Kubeconfig context.")] = None,
    cluster_id: Annotated[
        str | None, typer.Option("--cluster-id", help="This cluster's id.")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="Namespace Liqo runs in.")
    ] = None,
    health_port: Annotated[
        int | None, typer.Option("--health-port", help="Port of /healthz and /readyz.")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="Port of /metrics.")
    ] = None,
    leader_elect: Annotated[
        bool | None,
        typer.Option("--leader-elect/--no-leader-elect", help="Elect a leader among replicas."),
    ] = None,
    identity: Annotated[
        str | None,
        typer.Option("--identity", help="Leader election identity (default: $POD_NAME)."),
    ] = None,
    bind_address: Annotated[
        str, typer.Option("--bind-address", help="Address of the probe and metrics servers.")
    ] = "0.0.0.0",
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning.")] = "info",
) -> None:
    """Host the enabled modules' controllers (leader-elected), with probes and metrics."""
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise _fail(f"unknown log level {log_level!r} (use debug, info, warning or error)")
    configure_logging(log_level)
    overrides = _overrides(cluster_id, namespace, health_port, metrics_port, leader_elect)
    try:
        settings = load_settings(config, **overrides)
        runtime = load_runtime(settings)
    except LiqoError as err:
        raise _fail(str(err)) from None
    try:
        options = ManagerOptions(
            target=KubeTarget(kubeconfig=kubeconfig, context=context),
            identity=identity or default_identity(),
            bind_address=bind_address,
            identity_provider=(
                runtime.identity_provider() if settings.module_enabled("authentication") else None
            ),
        )
        # The core operator (ForeignClusters) always runs, even with no module enabled.
        registries = {CORE_OPERATOR: runtime.core_registry(), **runtime.module_registries()}
        manager = ControllerManager(settings, registries, options)
        code = asyncio.run(_serve(manager))
    except (LiqoError, KubeConfigError) as err:
        raise _fail(str(err)) from None
    except KeyboardInterrupt:  # interrupted before the signal handlers were in place
        raise typer.Exit(130) from None
    finally:
        runtime.close()
    raise typer.Exit(code)


def main() -> None:
    """Console script ``liqo``."""
    app()
