"""The ``liqoctl`` application: global options, command discovery, error handling.

Entry points ``liqoctl`` and ``kubectl-liqo`` both call :func:`main`; kubectl runs any
``kubectl-*`` executable on the PATH, so ``kubectl liqo ...`` works too.

Start-up loads only what the command line needs (:func:`root_command`): core commands
import their dependencies (settings, clients, the sandbox) when they run, the plugins
are loaded for a plugin command, and ``--help`` lists the plugins' commands from the
record :mod:`liqo_core.cli.commandcache` keeps. So ``liqoctl --help`` and ``version``
take a tenth of a second, not the second that kopf, the Kubernetes clients and
pydantic-settings cost (``benchmarks/run.py --only cli``).
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from liqo_core.cli import commands
from liqo_core.cli.context import CliState
from liqo_core.cli.output import print_error
from liqo_core.errors import LiqoError

HELP = "Liqo: peer Kubernetes clusters, offload workloads, connect their networks."


def _root(
    ctx: typer.Context,
    *,
    kubeconfig: Annotated[
        str | None,
        typer.Option(help="Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)."),
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="Kubeconfig context to use.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Liqo settings file (default: $LIQO_CONFIG_FILE).", dir_okay=False
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "-n", help="Namespace Liqo is installed in (default: liqo)."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Debug logs and full tracebacks.")
    ] = False,
) -> None:
    state = ctx.ensure_object(CliState)
    state.kubeconfig = kubeconfig
    state.context = context
    state.config_file = config
    state.namespace = namespace
    state.verbose = verbose
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)
    # urllib3 warns about each retry, stevedore about each plugin it cannot load: the
    # one-line error that follows says what to fix.
    for library in ("urllib3", "stevedore"):
        logging.getLogger(library).setLevel(logging.DEBUG if verbose else logging.ERROR)


def command_modules() -> list[str]:
    """Names of the modules in :mod:`liqo_core.cli.commands`, sorted."""
    return sorted(
        f"{commands.__name__}.{info.name}"
        for info in pkgutil.iter_modules(commands.__path__)
        if not info.name.startswith("_")
    )


def core_app() -> typer.Typer:
    """``liqoctl`` with the core commands only: no settings, runtime or plugin is loaded."""
    app = typer.Typer(
        name="liqoctl",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    for name in command_modules():
        importlib.import_module(name).register(app)
    return app


def add_plugin_commands(app: typer.Typer, state: CliState) -> bool:
    """Let the enabled plugins add their commands to ``app``.

    :return: False when the runtime cannot be loaded (``state.runtime_error`` says why):
        the core commands still work and :func:`run` reports the failure when a command
        cannot be found.
    """
    try:
        runtime = state.runtime()
    except LiqoError:
        return False
    runtime.pm.hook.liqo_cli_commands(app=app)
    return True


def build_app(state: CliState) -> typer.Typer:
    """Create ``liqoctl`` with the core commands and those of the enabled plugins."""
    app = core_app()
    add_plugin_commands(app, state)
    return app


def plain_help(command: Any) -> Any:
    """Format ``command``'s help, and its subcommands', with click's plain formatter.

    It wraps at the terminal's width keeping option names whole (rich's panels cut them
    at 80 columns), shows flags without a value type, and needs no rich import.
    """
    if isinstance(command, TyperGroup | TyperCommand):
        command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
    return command


def command_name(argv: Sequence[str]) -> str | None:
    """The command ``argv`` (global options first, see :func:`hoist_global_options`) runs.

    None when it asks for the root's help (nothing, or ``-h``/``--help`` before a command).
    """
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in ("--", "-h", "--help"):
            return None
        if not arg.startswith("-"):
            return arg
        if arg in _GLOBAL_OPTIONS:
            index += 1
        index += 1
    return None


def root_command(state: CliState, argv: Sequence[str]) -> TyperGroup:
    """The click command to run ``argv`` with, loading no more than that needs.

    A core command needs no plugin; the root's help lists the plugins' commands from
    :mod:`liqo_core.cli.commandcache` when it can; anything else (a plugin command, a
    typo) gets every enabled plugin's commands, and the listing is recorded for next time.
    """
    from liqo_core.cli import commandcache

    core = typer.main.get_command(core_app())
    assert isinstance(core, TyperGroup)
    name = command_name(argv)
    if name is not None and name in core.commands:
        plain_help(core)
        return core
    key = commandcache.fingerprint(state.config_file, state.namespace)
    if name is None:
        cached = commandcache.load(key)
        if cached is not None:
            for summary in cached:
                core.add_command(summary.placeholder())
            plain_help(core)
            return core
    app = core_app()
    loaded = add_plugin_commands(app, state)
    full = typer.main.get_command(app)
    assert isinstance(full, TyperGroup)
    plugin = {n: c for n, c in full.commands.items() if n not in core.commands}
    # Core commands first, then the plugins', whether listed from the cache or loaded.
    full.commands = {**{n: full.commands[n] for n in core.commands}, **plugin}
    if loaded:
        commandcache.save(key, plugin)
    plain_help(full)
    return full


#: Global options accepted anywhere on the command line, like kubectl's persistent flags.
_GLOBAL_FLAGS = {"--verbose", "-v"}
_GLOBAL_OPTIONS = {"--kubeconfig", "--context", "--config", "--namespace", "-n"}


def hoist_global_options(argv: Sequence[str]) -> list[str]:
    """Move global options found after the command name in front of it.

    So ``liqoctl version --kubeconfig x`` works as kubectl users expect. Everything after
    ``--`` is left alone.
    """
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            rest.extend(argv[index:])
            break
        option = arg.split("=", 1)[0]
        if arg in _GLOBAL_FLAGS or (option in _GLOBAL_OPTIONS and "=" in arg):
            front.append(arg)
        elif arg in _GLOBAL_OPTIONS and index + 1 < len(argv):
            front.extend(argv[index : index + 2])
            index += 1
        else:
            rest.append(arg)
        index += 1
    return front + rest


def _early_options(argv: Sequence[str]) -> CliState:
    """Read ``--config`` and ``--namespace`` before parsing: plugin commands depend on them."""
    values: dict[str, str] = {}
    names = {"--config": "config", "--namespace": "namespace", "-n": "namespace"}
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        option, has_value, value = arg.partition("=")
        if option in names and has_value:
            values[names[option]] = value
        elif arg in names and index + 1 < len(argv):
            values[names[arg]] = argv[index + 1]
    config = values.get("config")
    return CliState(config_file=Path(config) if config else None, namespace=values.get("namespace"))


def _unanswered_request(err: Exception) -> str | None:
    """``cannot reach <server> (<cause>)`` for a urllib3 error no command translated."""
    exceptions = sys.modules.get("urllib3.exceptions")
    if exceptions is None or not isinstance(err, exceptions.HTTPError):
        return None
    from liqo_core.cli.context import connection_cause

    pool = getattr(err, "pool", None)
    server = f"{pool.scheme}://{pool.host}:{pool.port}" if pool is not None else "the cluster"
    return f"cannot reach {server} ({connection_cause(err)})"


def _prog_name() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "liqoctl"
    return "kubectl liqo" if name == "kubectl-liqo" else "liqoctl"


def run(argv: Sequence[str]) -> int:
    """Run ``liqoctl`` with ``argv`` and return its exit code; never raises."""
    argv = hoist_global_options(argv)
    state = _early_options(argv)
    try:
        command = root_command(state, argv)
        result = command.main(
            args=list(argv), prog_name=_prog_name(), standalone_mode=False, obj=state
        )
        return result if isinstance(result, int) else 0
    except typer.TyperException as err:  # usage errors, from typer's own click
        message = err.format_message()
        if message.startswith("No such command") and state.runtime_error is not None:
            print_error(f"{message} Plugin commands are unavailable: {state.runtime_error}")
            return 1
        show = getattr(err, "show", None)
        if callable(show):
            show()
        else:
            print_error(message)
        return err.exit_code
    except typer.Abort:
        print_error("aborted")
        return 1
    except LiqoError as err:
        print_error(str(err))
        return 1
    except Exception as err:
        if state.verbose:
            traceback.print_exc()
        unanswered = _unanswered_request(err)
        if unanswered is not None:
            print_error(unanswered)
            return 1
        detail = " ".join(str(err).split())
        print_error(
            f"unexpected {type(err).__name__}: {detail} (run again with --verbose for details)"
        )
        return 1
    finally:
        state.close()


def main() -> None:
    """Console-script entry point of ``liqoctl`` and ``kubectl-liqo``."""
    raise SystemExit(run(sys.argv[1:]))
