"""Prometheus metrics of the controller-manager, in a registry of their own."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Info


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


class ControllerManagerMetrics:
    """Leader state, enabled modules, module operator readiness and build information."""

    def __init__(self, modules: Iterable[str], registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.leader = Gauge(
            "liqo_controller_manager_leader",
            "1 when this replica is the elected leader, 0 while standing by.",
            registry=self.registry,
        )
        self.modules_enabled = Gauge(
            "liqo_controller_manager_modules_enabled",
            "1 for each module this controller-manager hosts.",
            ["module"],
            registry=self.registry,
        )
        self.module_ready = Gauge(
            "liqo_controller_manager_module_ready",
            "1 when the module's operator has started and runs its handlers.",
            ["module"],
            registry=self.registry,
        )
        self.leader_acquisitions = Counter(
            "liqo_controller_manager_leader_acquisitions",
            "How many times this replica became the leader.",
            registry=self.registry,
        )
        build = Info(
            "liqo_controller_manager_build",
            "Versions this controller-manager runs.",
            registry=self.registry,
        )
        build.info(
            {
                "version": _version("liqo-core"),
                "kopf_version": _version("kopf"),
                "python_version": platform.python_version(),
            }
        )
        for module in modules:
            self.modules_enabled.labels(module=module).set(1)
            self.module_ready.labels(module=module).set(0)
