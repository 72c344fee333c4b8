"""Identity providers of the authentication module (see :mod:`liqo_core.identity`)."""
