"""Container probes (httpGet, tcpSocket, exec) as the kubelet runs them.

``python -m liqo_core.sandbox.probes http|tcp HOST PORT [PATH [SCHEME]]`` runs one
probe and exits 0 on success; the process runner uses it inside pod network namespaces.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from typing import Any

import aiohttp

JSON = dict[str, Any]


def resolve_port(port: int | str, container: JSON) -> int:
    """A probe port, by number or by the container's port name."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for entry in container.get("ports") or []:
        if entry.get("name") == port:
            return int(entry["containerPort"])
    raise ValueError(f"unknown port name {port!r}")


async def http_probe(host: str, port: int, path: str, scheme: str, limit: float) -> bool:
    """Success on any status in [200, 400)."""
    url = f"{scheme.lower()}://{host}:{port}{path if path.startswith('/') else '/' + path}"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=limit)) as session,
            session.get(url, ssl=context if scheme.upper() == "HTTPS" else True) as response,
        ):
            return 200 <= response.status < 400
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False


async def tcp_probe(host: str, port: int, limit: float) -> bool:
    """Success when a TCP connection opens."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), limit)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def run_probe(
    probe: JSON,
    *,
    container: JSON,
    host: str,
    netns: str | None,
    env: dict[str, str],
    cwd: str,
    pid: int | None = None,
) -> bool:
    """Run ``probe`` once for ``container`` whose pod address is ``host``.

    An ``exec`` probe runs in the namespaces of the container's process ``pid`` (so it
    sees the container's mounts, and network when it has its own), else in ``netns``.
    """
    timeout = float(probe.get("timeoutSeconds", 1))
    if "exec" in probe:
        command = list(probe["exec"].get("command") or [])
        if pid is not None:
            spaces = ["--mount", "--net"] if netns else ["--mount"]
            command = ["nsenter", f"--target={pid}", *spaces, "--", *command]
        elif netns:
            command = ["ip", "netns", "exec", netns, *command]
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                env=env,
                cwd=cwd,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError:
            return False
        try:
            return await asyncio.wait_for(process.wait(), timeout) == 0
        except TimeoutError:
            process.kill()
            await process.wait()
            return False
    if "httpGet" in probe:
        spec = probe["httpGet"]
        args = [
            "http",
            spec.get("host") or host,
            str(resolve_port(spec["port"], container)),
            spec.get("path", "/"),
            spec.get("scheme", "HTTP"),
        ]
    elif "tcpSocket" in probe:
        spec = probe["tcpSocket"]
        args = ["tcp", spec.get("host") or host, str(resolve_port(spec["port"], container))]
    else:
        return True
    if netns:
        process = await asyncio.create_subprocess_exec(
            "ip",
            "netns",
            "exec",
            netns,
            sys.executable,
            "-m",
            __name__,
            *args,
            str(timeout),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return await process.wait() == 0
    return await _probe_from_args(args, timeout)


async def _probe_from_args(args: list[str], limit: float) -> bool:
    if args[0] == "http":
        return await http_probe(args[1], int(args[2]), args[3], args[4], limit)
    return await tcp_probe(args[1], int(args[2]), limit)


def main() -> int:
    """Command-line entry point (last argument: timeout in seconds)."""
    *args, timeout = sys.argv[1:]
    return 0 if asyncio.run(_probe_from_args(args, float(timeout))) else 1


if __name__ == "__main__":
    sys.exit(main())
