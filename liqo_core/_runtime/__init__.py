"""Private implementation of the runtime: settings, plugin loading, the controller-manager.

Nothing here is a stable API; :mod:`liqo_core` re-exports what plugins and tools may use.
"""
