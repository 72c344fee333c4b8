"""Probe and metrics endpoints, and the controller-manager's liveness/readiness answers."""

from __future__ import annotations

import aiohttp
import kopf
import pytest
from prometheus_client import CollectorRegistry

from liqo_core import load_runtime
from liqo_core._runtime.component import (
    ComponentContext,
    ComponentHost,
    HostOptions,
    ProcessMetrics,
)
from liqo_core._runtime.controller_manager import ControllerManager
from liqo_core._runtime.health import metrics_app, probes_app, start_server
from liqo_core._runtime.metrics import ControllerManagerMetrics
from liqo_core._runtime.operator import ModuleOperator
from liqo_core.kube import KubeTarget
from liqo_core.settings import LiqoSettings


async def _get(port: int, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text(), response.headers["Content-Type"]


async def test_probes_answer_ok_or_the_reason():
    state: dict[str, str | None] = {"live": None, "ready": "modules not ready: networking"}
    server = await start_server(
        probes_app(lambda: state["live"], lambda: state["ready"]), "127.0.0.1", 0
    )
    try:
        assert server.port > 0
        assert (await _get(server.port, "/healthz"))[:2] == (200, "ok")
        assert (await _get(server.port, "/readyz"))[:2] == (500, "modules not ready: networking")
        state["ready"] = None
        assert (await _get(server.port, "/readyz"))[:2] == (200, "ok")
        state["live"] = "stuck"
        assert (await _get(server.port, "/healthz"))[:2] == (500, "stuck")
        assert (await _get(server.port, "/nope"))[0] == 404
    finally:
        await server.stop()


async def test_metrics_are_served_in_prometheus_text_format():
    registry = CollectorRegistry()
    ProcessMetrics("controller-manager", registry).leader.set(1)
    ControllerManagerMetrics(["networking", "offloading"], registry)
    server = await start_server(metrics_app(registry), "127.0.0.1", 0)
    try:
        status, body, content_type = await _get(server.port, "/metrics")
    finally:
        await server.stop()
    assert status == 200
    assert content_type.startswith("text/plain")
    lines = body.splitlines()
    assert "liqo_controller_manager_leader 1.0" in lines
    assert 'liqo_controller_manager_modules_enabled{module="networking"} 1.0' in lines
    assert 'liqo_controller_manager_modules_enabled{module="offloading"} 1.0' in lines
    assert any(line.startswith("liqo_controller_manager_build_info{") for line in lines)


async def test_busy_port_is_an_os_error():
    first = await start_server(probes_app(lambda: None, lambda: None), "127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            await start_server(probes_app(lambda: None, lambda: None), "127.0.0.1", first.port)
    finally:
        await first.stop()


def _host() -> tuple[ComponentHost, ControllerManager]:
    settings = LiqoSettings(modules=[])
    runtime = load_runtime(settings)
    context = ComponentContext(settings, runtime, KubeTarget(), "me", CollectorRegistry())
    manager = ControllerManager(context)
    return ComponentHost(manager, HostOptions(target=KubeTarget(), identity="me")), manager


def test_standby_is_ready_and_a_leader_waits_for_its_modules():
    host, manager = _host()
    assert host.liveness() is None
    assert host.readiness() is None  # standby
    manager.operators = [
        ModuleOperator(name, kopf.OperatorRegistry(), kopf.OperatorSettings(), kopf.Memo())
        for name in ("networking", "offloading")
    ]
    host.leading = True
    assert host.readiness() == "modules not ready: networking, offloading"
    manager.operators[0].ready.set()
    assert host.readiness() == "modules not ready: offloading"
    manager.operators[1].ready.set()
    assert host.readiness() is None


def test_leader_without_modules_is_ready():
    host, _ = _host()
    host.leading = True
    assert host.readiness() is None
