"""``liqoctl`` commands of the offloading module.

- :mod:`~liqo_offloading.cli.offload`: ``offload namespace`` / ``unoffload namespace``;
- :mod:`~liqo_offloading.cli.virtualnode`: ``create virtualnode`` / ``delete virtualnode``.

The modules import the ``kubernetes`` client only when a command runs.
"""

from __future__ import annotations

import typer


def register_commands(app: typer.Typer) -> None:
    """Add every command of the module to ``app``."""
    from liqo_offloading.cli import offload, virtualnode

    offload.register(app)
    virtualnode.register(app)
