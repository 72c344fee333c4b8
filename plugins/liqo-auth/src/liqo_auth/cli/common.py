"""What the module's ``liqoctl`` commands share: option types, a client, command groups."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer

from liqo_auth import forge
from liqo_core.cli.context import CommandError, get_state
from liqo_core.cli.output import OUTPUT_HELP, OutputFormat

T = TypeVar("T")

RemoteClusterID = Annotated[
    str, typer.Option("--remote-cluster-id", help="Cluster ID of the peer.", show_default=False)
]
Output = Annotated[OutputFormat, typer.Option("--output", "-o", help="yaml or json.")]
OptionalOutput = Annotated[OutputFormat | None, typer.Option("--output", "-o", help=OUTPUT_HELP)]
Timeout = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for the Liqo controllers.")
]


@contextmanager
def api_client(ctx: typer.Context) -> Iterator[Any]:
    """The local cluster's ``kubernetes`` client; forge errors become one-line errors."""
    client = get_state(ctx).api_client()
    try:
        yield client
    except forge.ForgeError as err:
        raise CommandError(str(err)) from err
    finally:
        client.close()  # type: ignore[no-untyped-call]


def run(ctx: typer.Context, work: Callable[[Any], T]) -> T:
    """Call ``work`` with the local cluster's client."""
    with api_client(ctx) as client:
        return work(client)


def group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The ``name`` command group of ``app``, created unless another module added it."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    created = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(created, name=name)
    return created
