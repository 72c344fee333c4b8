"""API emulator throughput: the figures that tell whether the emulator can dominate a test run.

Everything goes through the emulator's HTTPS API with the admin client certificate, from an
asyncio client with a few requests in flight (as controllers and tests use it), so the
numbers include TLS, routing, authentication, RBAC, admission and JSON encoding.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

from liqo_core.sandbox.apiserver import EmulatedCluster

NAMESPACE = "bench"
CONCURRENCY = 8


@dataclass(frozen=True)
class Result:
    """One measured figure."""

    name: str
    count: int
    seconds: float
    unit: str = "req/s"

    @property
    def rate(self) -> float:
        """Operations per second."""
        return self.count / self.seconds if self.seconds else float("inf")


class Client:
    """A minimal JSON client holding the admin credentials of one emulated cluster."""

    def __init__(self, kubeconfig: Path, workdir: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        self.server = cluster["server"]
        cert, key = workdir / "client.crt", workdir / "client.key"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
        self.ssl = ssl.create_default_context(cadata=ca)
        self.ssl.load_cert_chain(cert, key)
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self.ssl, limit=64),
            json_serialize=lambda o: orjson.dumps(o).decode(),
        )

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """One request; raises on a non-2xx answer."""
        data = orjson.dumps(body) if body is not None else None
        async with self.session.request(
            method, self.server + path, data=data, headers={"Content-Type": content_type}
        ) as response:
            raw = await response.read()
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {raw[:200]!r}")
            return orjson.loads(raw)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.session.close()


async def _timed_many(count: int, op: Callable[[int], Awaitable[Any]]) -> float:
    """Run ``op(i)`` for every i with CONCURRENCY calls in flight; seconds taken."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            await op(queue.get_nowait())

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - start


def _configmap(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cm-{i}", "labels": {"bench": "true", "shard": str(i % 10)}},
        "data": {"key": f"value-{i}"},
    }


def _pod(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{i}", "labels": {"app": "bench", "shard": str(i % 10)}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "registry.example/bench:1",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                    "env": [{"name": "INDEX", "value": str(i)}],
                }
            ]
        },
    }


async def _crud(client: Client, count: int) -> list[Result]:
    base = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
    results = [
        Result(
            "create configmap",
            count,
            await _timed_many(count, lambda i: client.request("POST", base, _configmap(i))),
        ),
        Result(
            "get configmap",
            count,
            await _timed_many(count, lambda i: client.request("GET", f"{base}/cm-{i}")),
        ),
        Result(
            "merge-patch configmap",
            count,
            await _timed_many(
                count,
                lambda i: client.request(
                    "PATCH",
                    f"{base}/cm-{i}",
                    {"data": {"patched": "yes"}},
                    "application/merge-patch+json",
                ),
            ),
        ),
    ]
    lists = 50
    results.append(
        Result(
            f"list {count} configmaps (selector: 1/10 match)",
            lists,
            await _timed_many(
                lists, lambda i: client.request("GET", f"{base}?labelSelector=shard%3D{i % 10}")
            ),
        )
    )
    return results


async def _watch_fanout(client: Client, watchers: int, events: int) -> Result:
    """``watchers`` streams each receive ``events`` ADDED events; events delivered per second."""
    base = f"/api/v1/namespaces/{NAMESPACE}/secrets"
    listing = await client.request("GET", base)
    rv = listing["metadata"]["resourceVersion"]
    received = [0] * watchers
    all_done = asyncio.Event()

    async def watch(index: int, ready: asyncio.Event) -> None:
        url = f"{client.server}{base}?watch=true&resourceVersion={rv}&labelSelector=fanout%3Dyes"
        async with client.session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as resp:
            ready.set()
            async for line in resp.content:
                if orjson.loads(line)["type"] == "ADDED":
                    received[index] += 1
                    if received[index] == events:
                        if all(n == events for n in received):
                            all_done.set()
                        return

    readies = [asyncio.Event() for _ in range(watchers)]
    tasks = [asyncio.create_task(watch(i, readies[i])) for i in range(watchers)]
    await asyncio.gather(*(r.wait() for r in readies))
    start = time.perf_counter()
    await _timed_many(
        events,
        lambda i: client.request(
            "POST",
            base,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"fan-{i}", "labels": {"fanout": "yes"}},
                "stringData": {"k": "v"},
            },
        ),
    )
    await asyncio.wait_for(all_done.wait(), timeout=120)
    seconds = time.perf_counter() - start
    await asyncio.gather(*tasks)
    return Result(
        f"watch fan-out ({watchers} watchers x {events} events)",
        watchers * events,
        seconds,
        "events/s",
    )


async def _pods(client: Client, count: int) -> list[Result]:
    base = f"/api/v1/namespaces/{NAMESPACE}/pods"
    created = await _timed_many(count, lambda i: client.request("POST", base, _pod(i)))
    results = [Result(f"create pod (to {count})", count, created)]
    start = time.perf_counter()
    async with client.session.get(client.server + base) as response:
        raw = await response.read()
    received = time.perf_counter() - start
    listing = orjson.loads(raw)
    decoded = time.perf_counter() - start
    assert len(listing["items"]) == count, len(listing["items"])
    megabytes = len(raw) / 1e6
    results.append(
        Result(f"list {count} pods: answer received ({megabytes:.1f} MB)", 1, received, "lists/s")
    )
    results.append(Result(f"list {count} pods: received and decoded", 1, decoded, "lists/s"))
    start = time.perf_counter()
    url = f"{client.server}{base}?watch=true&resourceVersion=0"
    seen = 0
    async with client.session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as resp:
        async for _line in resp.content:
            seen += 1
            if seen == count:
                break
    results.append(
        Result(
            f"watch {count} pods from rv=0 (initial events)",
            count,
            time.perf_counter() - start,
            "events/s",
        )
    )
    return results


async def _run(kubeconfig: Path, workdir: Path, quick: bool) -> list[Result]:
    client = Client(kubeconfig, workdir)
    try:
        await client.request(
            "POST",
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        )
        results = await _crud(client, 300 if quick else 2000)
        results.append(await _watch_fanout(client, 10 if quick else 50, 50 if quick else 200))
        results += await _pods(client, 1000 if quick else 10_000)
        return results
    finally:
        await client.close()


def run(quick: bool = False) -> list[Result]:
    """Start an emulated cluster, measure, stop it."""
    with tempfile.TemporaryDirectory(prefix="liqo-bench-") as tmp:
        cluster = EmulatedCluster("bench", Path(tmp) / "cluster")
        cluster.start()
        try:
            return asyncio.run(_run(cluster.kubeconfig, Path(tmp), quick))
        finally:
            cluster.stop()
