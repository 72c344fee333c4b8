"""The Liqo sandbox: emulated clusters with nodes, workload controllers, a scheduler, a
hollow kubelet and a process runner. Behind ``liqoctl sandbox up|status|down``; see
docs/sandbox.md."""

from liqo_core.sandbox.sandbox import (
    DEFAULT_DIR,
    AlreadyRunningError,
    ClusterStatus,
    Sandbox,
    SandboxError,
)
from liqo_core.sandbox.state import ClusterInfo, SandboxState

__all__ = [
    "DEFAULT_DIR",
    "AlreadyRunningError",
    "ClusterInfo",
    "ClusterStatus",
    "Sandbox",
    "SandboxError",
    "SandboxState",
]
