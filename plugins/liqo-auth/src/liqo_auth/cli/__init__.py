"""``liqoctl`` commands of the authentication module.

- :mod:`~liqo_auth.cli.handshake`: ``create|get nonce``, ``generate tenant|identity``
  (the declarative handshake, one administrator per side);
- :mod:`~liqo_auth.cli.peering`: ``authenticate``/``unauthenticate`` with both
  kubeconfigs, ``create resourceslice``, ``get kubeconfig``, and the provider's
  reservation controls ``cordon|uncordon|drain|activate tenant`` and
  ``cordon|uncordon resourceslice``;
- :mod:`~liqo_auth.cli.steps`: the module's steps of ``liqoctl peer`` / ``unpeer``.
"""

from __future__ import annotations

import typer

from liqo_auth.cli.handshake import register_commands as register_handshake
from liqo_auth.cli.peering import register_commands as register_peering


def register_commands(app: typer.Typer) -> None:
    """Add every command of the module."""
    register_handshake(app)
    register_peering(app)
