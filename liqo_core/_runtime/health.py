"""HTTP endpoints of a Liqo process: liveness and readiness probes, Prometheus metrics.

Each endpoint set runs on its own aiohttp server in the process's event loop, so an answer
also proves the loop is responsive.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

#: A check answers ``None`` when fine, else a one-line reason.
Check = Callable[[], str | None]


@dataclass
class HttpServer:
    """A started aiohttp server; ``port`` is the bound port (useful when asked for port 0)."""

    runner: web.AppRunner
    host: str
    port: int

    async def stop(self) -> None:
        """Stop accepting connections and close the server."""
        await self.runner.cleanup()


async def start_server(app: web.Application, host: str, port: int) -> HttpServer:
    """Serve ``app`` on ``host:port`` (``port`` 0 picks a free one)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    return HttpServer(runner=runner, host=host, port=int(runner.addresses[0][1]))


def probes_app(live: Check, ready: Check) -> web.Application:
    """``/healthz`` (liveness) and ``/readyz`` (readiness): 200 ``ok`` or 500 with the reason."""

    def endpoint(check: Check) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(_: web.Request) -> web.Response:
            problem = check()
            if problem is None:
                return web.Response(text="ok")
            return web.Response(status=500, text=problem)

        return handle

    app = web.Application()
    app.router.add_get("/healthz", endpoint(live))
    app.router.add_get("/readyz", endpoint(ready))
    return app


def metrics_app(registry: CollectorRegistry) -> web.Application:
    """``/metrics`` in the Prometheus text format, from ``registry``."""

    async def handle(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/metrics", handle)
    return app
