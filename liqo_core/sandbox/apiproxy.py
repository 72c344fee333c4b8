"""API server access for pods in their own network namespace, through a Unix socket.

Unix sockets are not bound to a network namespace, so two forwarders bridge the gap:
the supervisor serves ``<tmp>/<netns prefix>-<cluster>-api.sock`` and forwards it to the
API server on the host's loopback; inside a pod's namespace,
``python -m liqo_core.sandbox.apiproxy --forward PORT=SOCK ...`` forwards
``127.0.0.1:PORT`` to that socket, for every sandbox cluster. The pod then sees each API
server at the address its kubeconfig names (which its certificate covers), exactly as a
host-network pod does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from liqo_core.sandbox.apiserver.netns import NetnsSockets

Connector = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def socket_path(prefix: str, cluster: str) -> str:
    """Where the supervisor serves the cluster's API socket (short enough for AF_UNIX)."""
    return str(Path(tempfile.gettempdir()) / f"{prefix}-{cluster}-api.sock")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()


def _forwarder(
    connect: Connector,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await connect()
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    return handle


async def serve_unix(path: str, host: str, port: int) -> asyncio.Server:
    """Serve ``path``, forwarding each connection to ``host:port`` (TCP)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return await asyncio.start_unix_server(
        _forwarder(lambda: asyncio.open_connection(host, port)), path=path
    )


async def serve_tcp(host: str, port: int, path: str) -> asyncio.Server:
    """Serve ``host:port``, forwarding each connection to the Unix socket ``path``."""
    return await asyncio.start_server(
        _forwarder(lambda: asyncio.open_unix_connection(path)), host=host, port=port
    )


async def serve_in_netns(
    netns_path: str, forwards: Sequence[tuple[int, str, int]]
) -> list[asyncio.Server]:
    """For each ``(port, host, target)``: listen on ``127.0.0.1:port`` in the namespace at
    ``netns_path`` and forward each connection to ``host:target`` of this process's
    namespace."""
    sockets = NetnsSockets(netns_path)
    servers: list[asyncio.Server] = []
    try:
        for port, host, target in forwards:
            listener = await asyncio.to_thread(sockets.listen, "127.0.0.1", port)

            def connect(
                host: str = host, target: int = target
            ) -> Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
                return asyncio.open_connection(host, target)

            servers.append(await asyncio.start_server(_forwarder(connect), sock=listener))
    except BaseException:
        for server in servers:
            server.close()
        raise
    finally:
        sockets.close()
    return servers


async def _main(forwards: list[str]) -> None:
    servers = []
    for forward in forwards:
        port, path = forward.split("=", 1)
        servers.append(await serve_tcp("127.0.0.1", int(port), path))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main() -> int:
    """In-namespace side: one ``--forward PORT=SOCKET`` per API server."""
    parser = argparse.ArgumentParser(prog="python -m liqo_core.sandbox.apiproxy")
    parser.add_argument("--forward", action="append", required=True, metavar="PORT=SOCKET")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.forward))
    return 0


if __name__ == "__main__":
    sys.exit(main())
