"""The Kubernetes version the emulator serves (``/version``), and its nodes' kubelets run.

Kept free of imports so the sandbox can read it without loading the server.
"""

from __future__ import annotations

KUBERNETES_VERSION = "v1.32.0"
"""``gitVersion`` of /version, and every sandbox node's ``kubeletVersion``."""

_MAJOR, _MINOR, _PATCH = KUBERNETES_VERSION.removeprefix("v").split(".")

VERSION_INFO: dict[str, str] = {
    "major": _MAJOR,
    "minor": _MINOR,
    "gitVersion": KUBERNETES_VERSION,
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}
