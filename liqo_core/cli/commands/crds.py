"""``liqoctl crds``: every CustomResourceDefinition of liqo-core and the enabled plugins.

This is the one command that regenerates ``charts/liqo/crds/``::

    liqoctl crds --output-dir charts/liqo/crds
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqo_core.cli.context import CommandError, get_state


def crds(
    ctx: typer.Context,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            help="Write one <group>_<plural>.yaml per CRD here (stale generated files are "
            "removed) instead of printing a YAML stream.",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Print the CRDs of liqo-core and of the enabled plugins (e.g. the transport's)."""
    from liqo_core.api import CORE_MODELS, crd_manifests, dump_crd, write_crds

    models = [*CORE_MODELS, *get_state(ctx).runtime().api_models()]
    try:
        manifests = crd_manifests(models)
        if output_dir is not None:
            for path in write_crds(models, output_dir):
                typer.echo(path)
            return
    except ValueError as err:
        raise CommandError(str(err)) from err
    typer.echo("---\n".join(dump_crd(crd) for crd in manifests), nl=False)


def register(app: typer.Typer) -> None:
    """Add ``crds``."""
    app.command("crds")(crds)
