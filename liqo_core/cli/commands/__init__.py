"""``liqoctl`` commands, one module each, discovered by :mod:`liqo_core.cli.app`.

Every public module here exposes ``register(app: typer.Typer) -> None``, which adds its
command(s) to the root application. Drop a new module in to add a command.

Every module is imported for every ``liqoctl`` run, ``--help`` included: at import time
a module needs only typer and the light ``liqo_core.cli`` helpers; settings, Kubernetes
clients, the CR models, rich and the sandbox are imported inside the functions that use
them (tests/unit/cli/test_startup.py checks it).
"""
