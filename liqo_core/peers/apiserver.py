"""The API server check of a ForeignCluster: can the peer's API server be reached?

Upstream probes every 15 s with a 5 s timeout, with the kubeconfig the peering gave
this cluster; the outcome is the ``APIServerStatus`` condition. Errors are described
by kind and status only: a kubeconfig's content never reaches a message.

The checker keeps one client per peer, built from the peer's kubeconfig and replaced
when that kubeconfig changes (rotated credentials): a probe every 15 s then costs one
request on a kept-alive connection, not a kubeconfig parse, an SSL context and a TLS
handshake. :meth:`APIServerChecker.close` closes them (when the operator stops).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass

from liqo_core.api.consts import CONDITION_API_SERVER, STATUS_ERROR, STATUS_ESTABLISHED
from liqo_core.kube import Kube, KubeConfigError, describe_error
from liqo_core.peers.contract import PeerCondition

#: Seconds between two probes of one peer (upstream's period).
CHECK_INTERVAL = 15.0
#: Seconds a probe may take.
CHECK_TIMEOUT = 5.0

API_SERVER_READY = "APIServerReady"
API_SERVER_NOT_READY = "APIServerNotReady"


async def client_for(kubeconfig: str, request_timeout: float = CHECK_TIMEOUT) -> Kube:
    """A client built from a kubeconfig document (raises ``ValueError`` without detail)."""
    try:
        return await Kube.from_kubeconfig(kubeconfig, request_timeout=request_timeout)
    except KubeConfigError as exc:
        raise ValueError(str(exc)) from None


def _not_ready(message: str) -> PeerCondition:
    return PeerCondition(CONDITION_API_SERVER, STATUS_ERROR, API_SERVER_NOT_READY, message)


async def probe_with(api: Kube, limit: float = CHECK_TIMEOUT) -> PeerCondition:
    """``APIServerStatus`` through ``api``: ``Established`` when ``/version`` answers within
    ``limit``, else ``Error`` (upstream's values)."""
    try:
        async with asyncio.timeout(limit):
            await api.request("GET", "/version")
    except TimeoutError:
        return _not_ready(f"no answer within {limit:.0f}s")
    except Exception as exc:
        return _not_ready(describe_error(exc))
    return PeerCondition(
        CONDITION_API_SERVER, STATUS_ESTABLISHED, API_SERVER_READY, "The API server is reachable"
    )


async def probe(kubeconfig: str, limit: float = CHECK_TIMEOUT) -> PeerCondition:
    """One probe with a client of its own (closed afterwards)."""
    try:
        api = await client_for(kubeconfig, limit)
    except ValueError as exc:
        return _not_ready(str(exc))
    try:
        return await probe_with(api, limit)
    finally:
        await api.close()


def _digest(kubeconfig: str) -> str:
    return hashlib.sha256(kubeconfig.encode()).hexdigest()


@dataclass
class _Last:
    kubeconfig_digest: str
    at: float
    condition: PeerCondition


@dataclass
class _Client:
    kubeconfig_digest: str
    api: Kube


class APIServerChecker:
    """Probes each peer at most every :data:`CHECK_INTERVAL` seconds (or when its
    kubeconfig changes) and remembers the last outcome."""

    def __init__(self, interval: float = CHECK_INTERVAL, timeout: float = CHECK_TIMEOUT) -> None:
        self.interval = interval
        self.timeout = timeout
        self._last: dict[str, _Last] = {}
        self._clients: dict[str, _Client] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._closing: set[asyncio.Task[None]] = set()

    async def check(self, peer: str, kubeconfig: str | None) -> PeerCondition | None:
        """The peer's ``APIServerStatus``; None when there is nothing to probe with."""
        if kubeconfig is None:
            self.forget(peer)
            return None
        digest = _digest(kubeconfig)
        lock = self._locks.setdefault(peer, asyncio.Lock())
        async with lock:  # one probe of a peer at a time, and one client per peer
            last = self._last.get(peer)
            now = time.monotonic()
            if last and last.kubeconfig_digest == digest and now - last.at < self.interval:
                return last.condition
            condition = await self._probe(peer, kubeconfig, digest)
            self._last[peer] = _Last(digest, time.monotonic(), condition)
            return condition

    async def _probe(self, peer: str, kubeconfig: str, digest: str) -> PeerCondition:
        cached = self._clients.get(peer)
        if cached is not None and cached.kubeconfig_digest != digest:
            self._drop(peer)
            cached = None
        if cached is None:
            try:
                api = await client_for(kubeconfig, self.timeout)
            except ValueError as exc:
                return _not_ready(str(exc))
            cached = self._clients[peer] = _Client(digest, api)
        condition = await probe_with(cached.api, self.timeout)
        if condition.status != STATUS_ESTABLISHED:
            self._drop(peer)  # start afresh next time (new connection, files re-read)
        return condition

    def _drop(self, peer: str) -> None:
        cached = self._clients.pop(peer, None)
        if cached is not None:
            task = asyncio.get_running_loop().create_task(cached.api.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def forget(self, peer: str) -> None:
        """Drop what is known about ``peer`` (and close its client)."""
        self._last.pop(peer, None)
        self._locks.pop(peer, None)
        self._drop(peer)

    async def close(self) -> None:
        """Close every peer's client."""
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(
            *(cached.api.close() for cached in clients), *self._closing, return_exceptions=True
        )
