"""Toolkit controllers hosted by a module's kopf operator in the controller-manager.

A module's ``liqo_register_handlers`` calls :func:`host_controllers` once per controller
(or group of controllers)::

    def build(context: ControllerContext) -> list[Controller]:
        nodes = context.informers.get("/apis/offloading.liqo.io/v1beta1/virtualnodes")
        controller = Controller("virtualnode", reconcile, workers=2)
        controller.watch(nodes)
        return [controller]

    host_controllers(registry, "virtualnode", build)

When the module's operator starts (the controller-manager runs operators only while it
leads), one API client and one set of shared :class:`~liqo_core.kube.Informers` are made
for all of that operator's hosted controllers, every ``build`` is called, the informers
start and the controllers run; when the operator stops, all of it stops. Controllers
thus share one watch per collection, as client-go's shared informers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import kopf

from liqo_core.kube import Controller, Informers, Kube, KubeTarget
from liqo_core.settings import LiqoSettings

logger = logging.getLogger(__name__)


@dataclass
class ControllerContext:
    """What a hosted controller's ``build`` gets: the operator's client and informers."""

    #: The local cluster, as the controller-manager's identity (no request timeout).
    kube: Kube
    #: Informers shared by every hosted controller of the operator.
    informers: Informers
    settings: LiqoSettings
    target: KubeTarget
    #: Extra long-running work of a builder (e.g. a periodic resync), run beside the
    #: controllers and cancelled with them.
    tasks: list[Callable[[], Any]] = field(default_factory=list)


Build = Callable[[ControllerContext], Sequence[Controller]]
"""Makes a hosted controller (or several), registering informers and handlers."""


class _Hosted:
    """The controllers one operator hosts, and their running tasks."""

    def __init__(self) -> None:
        self.builders: list[tuple[str, Build]] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self.stack: contextlib.AsyncExitStack | None = None

    async def start(self, settings: LiqoSettings, target: KubeTarget) -> None:
        self.stack = contextlib.AsyncExitStack()
        kube = await self.stack.enter_async_context(await Kube.from_target(target))
        informers = Informers(kube)
        self.stack.push_async_callback(informers.stop)
        context = ControllerContext(kube, informers, settings, target)
        loop = asyncio.get_running_loop()
        for name, build in self.builders:
            for controller in build(context):
                self._run(loop, controller.name, controller.run())
            logger.info("controller %s started", name)
        for work in context.tasks:
            self._run(loop, getattr(work, "__name__", "task"), work())
        informers.start()

    def _run(self, loop: asyncio.AbstractEventLoop, name: str, work: Any) -> None:
        task = loop.create_task(work, name=f"controller {name}")
        task.add_done_callback(_report_failure)
        self.tasks.append(task)

    async def stop(self) -> None:
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.stack is not None:
            stack, self.stack = self.stack, None
            await stack.aclose()


def _report_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s stopped: %s", task.get_name(), task.exception(), exc_info=task.exception())


_HOSTED: weakref.WeakKeyDictionary[kopf.OperatorRegistry, _Hosted] = weakref.WeakKeyDictionary()


def host_controllers(registry: kopf.OperatorRegistry, name: str, build: Build) -> None:
    """Run the controllers ``build`` makes while ``registry``'s operator runs."""
    hosted = _HOSTED.get(registry)
    if hosted is None:
        hosted = _HOSTED[registry] = _Hosted()
        _register(registry, hosted)
    hosted.builders.append((name, build))


def hosted_controller_names(registry: kopf.OperatorRegistry) -> tuple[str, ...]:
    """The names given to :func:`host_controllers` for ``registry``."""
    hosted = _HOSTED.get(registry)
    return tuple(name for name, _ in hosted.builders) if hosted is not None else ()


def _register(registry: kopf.OperatorRegistry, hosted: _Hosted) -> None:
    @kopf.on.startup(registry=registry, id="hosted-controllers")
    async def start_controllers(memo: kopf.Memo, **_: Any) -> None:
        await hosted.start(memo.settings, memo.kube_target)

    @kopf.on.cleanup(registry=registry, id="hosted-controllers-stop")
    async def stop_controllers(**_: Any) -> None:
        await hosted.stop()


__all__ = ["Build", "ControllerContext", "host_controllers", "hosted_controller_names"]
