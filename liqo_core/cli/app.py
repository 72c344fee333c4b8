"""The ``liqoctl`` application: global options, command discovery, error handling.

Entry points ``liqoctl`` and ``kubectl-liqo`` both call :func:`main`; kubectl runs any
``kubectl-*`` executable on the PATH, so ``kubectl liqo ...`` works too.
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
from typing import Annotated

import typer

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


def command_modules() -> list[str]:
    """Names of the modules in :mod:`liqo_core.cli.commands`, sorted."""
    return sorted(
        f"{commands.__name__}.{info.name}"
        for info in pkgutil.iter_modules(commands.__path__)
        if not info.name.startswith("_")
    )


def build_app(state: CliState) -> typer.Typer:
    """Create ``liqoctl`` with the core commands and those of the enabled plugins.

    Plugin commands need the enabled plugins, so the runtime is loaded here; if that
    fails the core commands still work and :func:`main` reports the failure when a
    command cannot be found.
    """
    app = typer.Typer(
        name="liqoctl",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    for name in command_modules():
        importlib.import_module(name).register(app)
    try:
        runtime = state.runtime()
    except LiqoError:
        return app
    runtime.pm.hook.liqo_cli_commands(app=app)
    return app


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


def _prog_name() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "liqoctl"
    return "kubectl liqo" if name == "kubectl-liqo" else "liqoctl"


def run(argv: Sequence[str]) -> int:
    """Run ``liqoctl`` with ``argv`` and return its exit code; never raises."""
    argv = hoist_global_options(argv)
    state = _early_options(argv)
    try:
        app = build_app(state)
        result = app(args=list(argv), prog_name=_prog_name(), standalone_mode=False, obj=state)
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
