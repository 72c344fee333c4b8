"""Prometheus metrics of the controller-manager role (the process's own, leadership and
build, come from :class:`liqo_core._runtime.component.ProcessMetrics`)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Gauge


class ControllerManagerMetrics:
    """Enabled modules and module operator readiness."""

    def __init__(self, modules: Iterable[str], registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
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
        for module in modules:
            self.modules_enabled.labels(module=module).set(1)
            self.module_ready.labels(module=module).set(0)
