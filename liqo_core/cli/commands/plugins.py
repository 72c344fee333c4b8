"""``liqoctl plugins list|check``: installed modules and transports, and whether they load."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from liqo_core.cli.context import get_state
from liqo_core.cli.output import OUTPUT_HELP, OutputFormat, print_data, print_table

plugins_app = typer.Typer(help="Installed Liqo modules and transports.", no_args_is_help=True)

OutputOption = Annotated[OutputFormat | None, typer.Option("--output", "-o", help=OUTPUT_HELP)]


@plugins_app.command("list")
def list_plugins(ctx: typer.Context, output: OutputOption = None) -> None:
    """List installed modules and transports (nothing is imported) and which are enabled."""
    from liqo_core._runtime.plugins import discover_plugins

    found = discover_plugins(get_state(ctx).settings())
    if output is not None:
        print_data([asdict(info) for info in found], output)
        return
    print_table(
        ("kind", "name", "distribution", "version", "enabled"),
        (
            (info.kind, info.name, info.distribution, info.version, "yes" if info.enabled else "no")
            for info in found
        ),
    )


@plugins_app.command("check")
def check_plugins(ctx: typer.Context, output: OutputOption = None) -> None:
    """Load the enabled plugins as a Liqo component would, and show what each owns."""
    runtime = get_state(ctx).runtime()
    info = runtime.module_info()
    rows: list[dict[str, Any]] = []
    for plugin in runtime.plugins:
        declared = info.get(plugin.plugin_name)
        rows.append(
            {
                "kind": plugin.kind,
                "name": plugin.name,
                "distribution": plugin.distribution,
                "version": plugin.version,
                "apiGroups": list(declared.api_groups) if declared else [],
                "kinds": list(declared.kinds) if declared else [],
                "description": declared.description if declared else "",
            }
        )
    if output is not None:
        print_data(rows, output)
        return
    print_table(
        ("kind", "name", "distribution", "version", "api groups"),
        (
            (
                row["kind"],
                row["name"],
                row["distribution"],
                row["version"],
                ", ".join(row["apiGroups"]) or "-",
            )
            for row in rows
        ),
    )


def register(app: typer.Typer) -> None:
    """Add ``plugins list`` and ``plugins check``."""
    app.add_typer(plugins_app, name="plugins")
