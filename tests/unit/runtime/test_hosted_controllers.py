"""Toolkit controllers hosted by a module's operator (``liqo_core.controllers``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import kopf

from liqo_core import LiqoSettings
from liqo_core._runtime.plugins import controller_names
from liqo_core.controllers import ControllerContext, host_controllers, hosted_controller_names
from liqo_core.kube import Controller, KubeTarget
from liqo_core.testing.clusters import ClusterHandle


def _activity(registry: kopf.OperatorRegistry, handler_id: str) -> Any:
    for handler in registry._activities.get_all_handlers():
        if handler.id == handler_id:
            return handler.fn
    raise AssertionError(f"no activity {handler_id}")


def test_hosted_names_count_as_the_module_controllers() -> None:
    registry = kopf.OperatorRegistry()
    host_controllers(registry, "widget", lambda context: [])
    host_controllers(registry, "gadget", lambda context: [])

    @kopf.on.event("v1", "configmaps", registry=registry, id="watcher-detail")
    def watcher(**_: Any) -> None:
        """A kopf resource handler: controller ``watcher``, detail ``detail``."""

    assert hosted_controller_names(registry) == ("widget", "gadget")
    assert controller_names(registry) == ("gadget", "watcher", "widget")
    assert hosted_controller_names(kopf.OperatorRegistry()) == ()


async def test_controllers_share_informers_and_stop_with_the_operator(
    kube_cluster: ClusterHandle, namespace: str
) -> None:
    registry = kopf.OperatorRegistry()
    seen: dict[str, list[str]] = {"a": [], "b": []}
    both = asyncio.Event()
    informers_seen: list[Any] = []
    ticks = asyncio.Event()

    def build(name: str) -> Any:
        def make(context: ControllerContext) -> list[Controller]:
            configmaps = context.informers.get(f"/api/v1/namespaces/{namespace}/configmaps")
            informers_seen.append(configmaps)

            async def reconcile(key: str) -> None:
                seen[name].append(key)
                if all(f"{namespace}/one" in keys for keys in seen.values()):
                    both.set()

            controller = Controller(name, reconcile)
            controller.watch(configmaps)

            async def tick() -> None:
                ticks.set()
                await asyncio.Event().wait()

            context.tasks.append(tick)
            return [controller]

        return make

    host_controllers(registry, "a", build("a"))
    host_controllers(registry, "b", build("b"))
    memo = kopf.Memo(settings=LiqoSettings(), kube_target=KubeTarget(kube_cluster.kubeconfig))
    await _activity(registry, "hosted-controllers")(memo=memo)
    try:
        assert informers_seen[0] is informers_seen[1]  # one watch for both
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}}
        kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(body))
        async with asyncio.timeout(20):
            await both.wait()
            await ticks.wait()
        assert set(seen["a"]) == set(seen["b"])  # every change reached both controllers
    finally:
        await _activity(registry, "hosted-controllers-stop")()
    tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("controller ")]
    assert not tasks, tasks
