"""``liqoctl`` commands, one module each, discovered by :mod:`liqo_core.cli.app`.

Every public module here exposes ``register(app: typer.Typer) -> None``, which adds its
command(s) to the root application. Drop a new module in to add a command.
"""
