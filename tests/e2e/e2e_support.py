"""Helpers shared by the end-to-end tests (no tests here)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TypeVar

from liqo_core.testing.waiting import wait_for as kit_wait_for

T = TypeVar("T")


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1
) -> T:
    """``liqo_core.testing.waiting.wait_for`` with the description first, as e2e tests read."""
    return kit_wait_for(probe, timeout=timeout, interval=interval, what=what)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
