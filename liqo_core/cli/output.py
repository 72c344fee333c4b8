"""How ``liqoctl`` prints: objects as YAML or JSON, tables with rich, one-line errors."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any


class OutputFormat(enum.StrEnum):
    """Values of ``-o/--output``."""

    YAML = "yaml"
    JSON = "json"


#: Help text shared by every ``-o/--output`` option.
OUTPUT_HELP = "Print the result as yaml or json instead of text."


def render(data: Any, fmt: OutputFormat) -> str:
    """Serialize ``data`` (plain dicts, lists, scalars) in ``fmt``."""
    if fmt is OutputFormat.JSON:
        return json.dumps(data, indent=2) + "\n"
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def print_data(data: Any, fmt: OutputFormat) -> None:
    """Print ``data`` on stdout in ``fmt``."""
    sys.stdout.write(render(data, fmt))


def print_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Print a plain table on stdout (never wrapped, so it can be grepped)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        table.add_column(column.upper(), no_wrap=True)
    for row in rows:
        table.add_row(*row)
    width = None if sys.stdout.isatty() else 1000
    Console(width=width, highlight=False, soft_wrap=True).print(table)


def print_error(message: str) -> None:
    """Print ``Error: <message>`` as one line on stderr."""
    sys.stderr.write(f"Error: {' '.join(message.split())}\n")
