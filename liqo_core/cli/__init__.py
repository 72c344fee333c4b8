"""``liqoctl`` (also ``kubectl liqo``): the command-line interface of Liqo.

Core commands live in :mod:`liqo_core.cli.commands`, one module each; enabled plugins
add theirs through the ``liqo_cli_commands`` hook.
"""
