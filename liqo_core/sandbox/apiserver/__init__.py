"""Kubernetes API emulator: an in-memory HTTPS API server per emulated cluster.

Run it with ``python -m liqo_core.sandbox.apiserver --name N --state-dir D`` or from
Python with :class:`EmulatedCluster`. See ``docs/testing.md``. Names are imported lazily
so that test processes which only start clusters do not load the server itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cli import main
    from .cluster import ClusterStartError, EmulatedCluster

__all__ = ["ClusterStartError", "EmulatedCluster", "main"]


def __getattr__(name: str) -> Any:
    if name == "main":
        from .cli import main

        return main
    if name in ("ClusterStartError", "EmulatedCluster"):
        from . import cluster

        return getattr(cluster, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
