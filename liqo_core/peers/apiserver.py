"""The API server check of a ForeignCluster: can the peer's API server be reached?

Upstream probes every 15 s with a 5 s timeout, with the kubeconfig the peering gave
this cluster; the outcome is the ``APIServerStatus`` condition. Errors are described
by kind and status only: a kubeconfig's content never reaches a message.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from liqo_core.api.consts import CONDITION_API_SERVER, STATUS_NOT_READY, STATUS_READY
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


async def probe(kubeconfig: str, limit: float = CHECK_TIMEOUT) -> PeerCondition:
    """``APIServerStatus``: Ready when ``/version`` answers within ``limit`` seconds."""
    try:
        api = await client_for(kubeconfig, limit)
    except ValueError as exc:
        return PeerCondition(CONDITION_API_SERVER, STATUS_NOT_READY, API_SERVER_NOT_READY, str(exc))
    try:
        async with asyncio.timeout(limit):
            await api.request("GET", "/version")
    except TimeoutError:
        message = f"no answer within {limit:.0f}s"
        return PeerCondition(CONDITION_API_SERVER, STATUS_NOT_READY, API_SERVER_NOT_READY, message)
    except Exception as exc:
        return PeerCondition(
            CONDITION_API_SERVER, STATUS_NOT_READY, API_SERVER_NOT_READY, describe_error(exc)
        )
    finally:
        await api.close()
    return PeerCondition(
        CONDITION_API_SERVER, STATUS_READY, API_SERVER_READY, "The API server is reachable"
    )


@dataclass
class _Last:
    kubeconfig_hash: int
    at: float
    condition: PeerCondition


class APIServerChecker:
    """Probes each peer at most every :data:`CHECK_INTERVAL` seconds (or when its
    kubeconfig changes) and remembers the last outcome."""

    def __init__(self, interval: float = CHECK_INTERVAL, timeout: float = CHECK_TIMEOUT) -> None:
        self.interval = interval
        self.timeout = timeout
        self._last: dict[str, _Last] = {}

    async def check(self, peer: str, kubeconfig: str | None) -> PeerCondition | None:
        """The peer's ``APIServerStatus``; None when there is nothing to probe with."""
        if kubeconfig is None:
            self._last.pop(peer, None)
            return None
        digest = hash(kubeconfig)
        last = self._last.get(peer)
        now = time.monotonic()
        if last and last.kubeconfig_hash == digest and now - last.at < self.interval:
            return last.condition
        condition = await probe(kubeconfig, self.timeout)
        self._last[peer] = _Last(digest, time.monotonic(), condition)
        return condition

    def forget(self, peer: str) -> None:
        """Drop what is known about ``peer``."""
        self._last.pop(peer, None)
