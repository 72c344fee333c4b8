"""``liqo``: the entry point of Liqo's in-cluster components; the subcommand picks the role.

Roles come from entry-point group ``liqo.roles`` (``controller-manager`` from liqo-core;
plugins add theirs, such as ``virtual-kubelet``). Every role takes the same process flags
(settings, kubeconfig, probes, metrics, leader election, logging) plus its own. Flags
override the config file and the environment. Problems a user can fix (settings,
plugins, kubeconfig, an unreachable cluster, a busy port, an unknown role) end the
process with one line on stderr and a non-zero exit code. Logs are JSON lines on stderr.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import logging
import os
import signal
import socket
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from liqo_core._runtime.component import (
    ROLES_GROUP,
    Component,
    ComponentContext,
    ComponentHost,
    HostOptions,
)
from liqo_core.errors import LiqoError, PluginContractError, PluginImportError

LOG_LEVELS = ("debug", "info", "warning", "error")


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


def installed_roles() -> dict[str, importlib.metadata.EntryPoint]:
    """The installed roles by name (entry-point group ``liqo.roles``); nothing imported."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ROLES_GROUP)}


def load_role(ep: importlib.metadata.EntryPoint) -> type[Component]:
    """Import role ``ep`` and check its contract.

    :raises PluginImportError: it does not import.
    :raises PluginContractError: it is not a complete :class:`Component` named ``ep.name``.
    """
    dist = ep.dist.metadata["Name"] if ep.dist is not None else "unknown"
    try:
        role = ep.load()
    except Exception as err:
        raise PluginImportError(
            "role",
            ep.name,
            dist,
            f"role {ep.name!r} from distribution {dist!r} failed to import ({ep.value}: "
            f"{type(err).__name__}: {err}): reinstall {dist!r} with its dependencies",
        ) from err

    def broken(problem: str) -> PluginContractError:
        return PluginContractError(
            "role", ep.name, dist, f"role {ep.name!r} from distribution {dist!r} {problem}"
        )

    if not (isinstance(role, type) and issubclass(role, Component)):
        raise broken(f"is not a liqo_core.Component subclass ({ep.value})")
    missing = sorted(getattr(role, "__abstractmethods__", ()))
    if missing:
        raise broken(f"does not implement {', '.join(missing)}")
    if getattr(role, "name", None) != ep.name:
        raise broken(f"declares name {getattr(role, 'name', None)!r}, not {ep.name!r}")
    return role


def _process_options() -> list[click.Parameter]:
    """The flags every role takes."""
    return [
        click.Option(["--config"], type=click.Path(dir_okay=False), help="YAML config file."),
        click.Option(
            ["--kubeconfig"],
            type=click.Path(),
            help="Kubeconfig file (default: in-cluster or ~/.kube).",
        ),
        click.Option(["--context"], help="Kubeconfig context."),
        click.Option(["--cluster-id"], help="This cluster's id."),
        click.Option(["--namespace"], help="Namespace Liqo runs in."),
        click.Option(["--health-port"], type=int, help="Port of /healthz and /readyz."),
        click.Option(["--metrics-port"], type=int, help="Port of /metrics."),
        click.Option(
            ["--leader-elect/--no-leader-elect"],
            default=None,
            help="Elect a leader among replicas.",
        ),
        click.Option(["--identity"], help="Leader election identity (default: $POD_NAME)."),
        click.Option(
            ["--bind-address"],
            default="0.0.0.0",
            show_default=True,
            help="Address of the probe and metrics servers.",
        ),
        click.Option(
            ["--log-level"],
            default="info",
            show_default=True,
            help="debug, info, warning or error.",
        ),
    ]


_PROCESS_FLAGS = {param.name for param in _process_options()}


def _overrides(role: type[Component], values: dict[str, Any]) -> dict[str, Any]:
    """Settings given as flags, as nested keyword arguments of ``load_settings``."""
    overrides: dict[str, Any] = {}
    for flag in ("cluster_id", "namespace"):
        if values.get(flag) is not None:
            overrides[flag] = values[flag]
    process: dict[str, Any] = {}
    for flag in ("health_port", "metrics_port"):
        if values.get(flag) is not None:
            process[flag] = values[flag]
    if values.get("leader_elect") is not None:
        process["leader_election"] = {"enabled": values["leader_elect"]}
    if process:
        overrides[role.settings_key()] = process
    return overrides


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


async def _serve(host: ComponentHost) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return await host.run(stop)


def run_role(role: type[Component], values: dict[str, Any]) -> int:
    """Load settings and plugins, then run ``role`` under the shared scaffolding."""
    from prometheus_client import CollectorRegistry

    from liqo_core._runtime.plugins import load_runtime
    from liqo_core.kube import KubeConfigError, KubeTarget
    from liqo_core.settings import load_settings

    level = str(values["log_level"]).lower()
    if level not in LOG_LEVELS:
        _fail(f"unknown log level {level!r} (use debug, info, warning or error)")
    configure_logging(level)
    try:
        settings = load_settings(values["config"], **_overrides(role, values))
        runtime = load_runtime(settings)
    except LiqoError as err:
        _fail(str(err))
    try:
        kubeconfig = values["kubeconfig"]
        context = ComponentContext(
            settings=settings,
            runtime=runtime,
            target=KubeTarget(
                kubeconfig=Path(kubeconfig) if kubeconfig else None, context=values["context"]
            ),
            identity=values["identity"] or default_identity(),
            metrics=CollectorRegistry(),
            arguments={k: v for k, v in values.items() if k not in _PROCESS_FLAGS},
        )
        options = HostOptions(
            target=context.target,
            identity=context.identity,
            bind_address=values["bind_address"],
        )
        host = ComponentHost(role(context), options)
        return asyncio.run(_serve(host))
    except (LiqoError, KubeConfigError) as err:
        _fail(str(err))
    except KeyboardInterrupt:  # interrupted before the signal handlers were in place
        return 130
    finally:
        runtime.close()


class RoleGroup(click.Group):
    """``liqo``'s subcommands: one per installed role, built on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(installed_roles())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        ep = installed_roles().get(cmd_name)
        if ep is None:
            return None
        try:
            role = load_role(ep)
        except LiqoError as err:
            _fail(str(err))

        def callback(**values: Any) -> None:
            sys.exit(run_role(role, values))

        return click.Command(
            cmd_name,
            callback=callback,
            params=[*_process_options(), *role.parameters()],
            help=role.help or role.__doc__,
            short_help=role.help,
        )

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in installed_roles():
            installed = ", ".join(sorted(installed_roles())) or "none"
            _fail(f"unknown role {name!r} (installed roles: {installed})")
        return super().resolve_command(ctx, args)


app = RoleGroup(
    name="liqo",
    help="Run a Liqo component. The subcommand is the role.",
    no_args_is_help=True,
)


def main() -> None:
    """Console script ``liqo``."""
    app()
