"""The ``controller-manager`` role: one kopf operator per enabled module, while leading.

The ``core`` operator (:data:`~liqo_core._runtime.operator.CORE_OPERATOR`: the
ForeignCluster controller, and CRD replication when a module declares replicated kinds)
always runs, even with every module disabled.
"""

from __future__ import annotations

import asyncio
import logging

import kopf

from liqo_core._runtime.component import Component, ComponentContext, StopRequest
from liqo_core._runtime.metrics import ControllerManagerMetrics
from liqo_core._runtime.operator import (
    CORE_OPERATOR,
    ModuleOperator,
    operator_settings,
    register_login,
)
from liqo_core.kube import describe_error
from liqo_core.settings import ComponentSettings, LiqoSettings

logger = logging.getLogger(__name__)


class ControllerManager(Component):
    """Hosts the enabled modules' controllers (leader-elected), with probes and metrics."""

    name = "controller-manager"
    help = "Host the enabled modules' controllers (leader-elected), with probes and metrics."

    def __init__(self, context: ComponentContext) -> None:
        super().__init__(context)
        runtime = context.runtime
        self.registries: dict[str, kopf.OperatorRegistry] = {
            CORE_OPERATOR: runtime.core_registry(),
            **runtime.module_registries(),
        }
        self.module_metrics = ControllerManagerMetrics(self.registries, context.metrics)
        for registry in self.registries.values():
            register_login(registry, context.target, context.settings.namespace)
        self.operators: list[ModuleOperator] = []

    @classmethod
    def process_settings(cls, settings: LiqoSettings) -> ComponentSettings:
        """``controllerManager`` of the settings."""
        return settings.controller_manager

    def readiness(self) -> str | None:
        """Ready once every module operator has started."""
        waiting = [op.name for op in self.operators if not op.ready.is_set()]
        return f"modules not ready: {', '.join(waiting)}" if waiting else None

    async def run(self, stop: StopRequest) -> int:
        """Run every operator until ``stop`` (0) or until one of them stops on its own (1)."""
        context = self.context
        self.operators = [
            ModuleOperator(
                name,
                registry,
                operator_settings(name),
                kopf.Memo(
                    identity=context.identity,
                    module=name,
                    settings=context.settings,
                    kube_target=context.target,
                ),
            )
            for name, registry in self.registries.items()
        ]
        for operator in self.operators:
            operator.start()
            self.module_metrics.module_ready.labels(module=operator.name).set_function(
                operator.ready.is_set
            )
        logger.info("leading with modules: %s", ", ".join(self.registries))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait(
                {stopping, *(op.done for op in self.operators)},
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stopping.cancel()
        code = 0 if stop.event.is_set() else self._failed()
        await asyncio.gather(*(op.stop(stop.grace) for op in self.operators))
        return code

    def _failed(self) -> int:
        for operator in self.operators:
            if operator.done.done():
                error = operator.done.exception()
                reason = describe_error(error) if error else "it exited"
                logger.error("module %s stopped unexpectedly: %s", operator.name, reason)
        return 1
