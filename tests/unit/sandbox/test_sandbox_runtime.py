"""Host-side pieces, for real: work queue, probes, ICMP, state file, network namespaces."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from aiohttp import web

from liqo_core.sandbox import apiproxy
from liqo_core.sandbox.controllerruntime import run_when_synced, work_queue
from liqo_core.sandbox.icmp import ping
from liqo_core.sandbox.probes import run_probe
from liqo_core.sandbox.state import SandboxState, plan_cluster
from liqo_core.sandbox.supervisor import summarise


async def test_work_queue_deduplicates_and_retries() -> None:
    queue = work_queue()
    seen: list[str] = []
    done = asyncio.Event()

    async def reconcile(key: str) -> None:
        seen.append(key)
        if seen.count("flaky") == 1 and key == "flaky":
            raise RuntimeError("first attempt fails")
        if seen.count("flaky") == 2:
            done.set()

    for key in ("a", "a", "flaky", "a"):
        queue.add(key)
    worker = asyncio.create_task(run_when_synced(queue, reconcile, "test"))
    await asyncio.wait_for(done.wait(), 5)
    worker.cancel()
    assert seen.count("a") == 1
    assert seen.count("flaky") == 2


async def test_http_tcp_and_exec_probes(tmp_path: Path) -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def bad(request: web.Request) -> web.Response:
        return web.Response(status=500)

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/bad", bad)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    container = {"ports": [{"name": "http", "containerPort": port}]}
    env = dict(os.environ)

    async def probe(spec: dict[str, object]) -> bool:
        return await run_probe(
            spec, container=container, host="127.0.0.1", netns=None, env=env, cwd=str(tmp_path)
        )

    try:
        assert await probe({"httpGet": {"path": "/ok", "port": "http"}})
        assert not await probe({"httpGet": {"path": "/bad", "port": port}})
        assert await probe({"tcpSocket": {"port": port}})
        assert await probe({"exec": {"command": ["true"]}})
        assert not await probe({"exec": {"command": ["false"]}})
    finally:
        await runner.cleanup()
    assert not await probe({"tcpSocket": {"port": port}})


def test_ping_loopback() -> None:
    assert ping("127.0.0.1", 2.0) is not None


def test_state_round_trip(tmp_path: Path) -> None:
    state = SandboxState(
        directory=str(tmp_path),
        pid=42,
        netns_prefix="lsb-x",
        clusters=[plan_cluster(tmp_path, 1), plan_cluster(tmp_path, 2, workers=2)],
    )
    state.save()
    loaded = SandboxState.load(tmp_path)
    assert loaded == state
    second = loaded.clusters[1] if loaded else None
    assert second is not None
    assert (second.pod_cidr, second.service_cidr) == ("10.102.0.0/16", "10.202.0.0/16")
    assert [n.name for n in second.nodes] == [
        "cluster-2-control-plane",
        "cluster-2-worker",
        "cluster-2-worker2",
    ]
    assert [n.pod_cidr for n in second.nodes] == ["10.102.0.0/24", "10.102.1.0/24", "10.102.2.0/24"]
    assert second.kubeconfig == str(tmp_path / "cluster-2" / "kubeconfig")


def test_supervisor_errors_are_summarised_on_one_line() -> None:
    err = RuntimeError(
        "cluster c: server exited with 1:\nTraceback...\n  File x\nNameError: boom\n"
    )
    assert summarise(err) == "cluster c: server exited with 1: ... NameError: boom"
    assert summarise(RuntimeError("plain")) == "plain"
    assert summarise(RuntimeError("")) == "RuntimeError"


async def test_api_proxy_forwards_tcp_through_a_unix_socket(tmp_path: Path) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"echo:" + await reader.readline())
        await writer.drain()
        writer.close()

    upstream = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = upstream.sockets[0].getsockname()[1]
    path = str(tmp_path / "api.sock")
    unix = await apiproxy.serve_unix(path, "127.0.0.1", port)
    front = await apiproxy.serve_tcp("127.0.0.1", 0, path)
    front_port = front.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", front_port)
        writer.write(b"hello\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b"echo:hello\n"
        writer.close()
    finally:
        for server in (front, unix, upstream):
            server.close()
            await server.wait_closed()
    assert apiproxy.socket_path("lsb-abc", "cluster-1").endswith("/lsb-abc-cluster-1-api.sock")
