"""Waiting on a condition observed through the API: the one polling helper of the test kit.

Tests never sleep for a fixed time: they poll what a real cluster would show, with a
deadline, and fail saying what they waited for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | Literal[False] | None],
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Call ``probe`` until it returns something truthy; return it, or fail after ``timeout``
    with the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")
        time.sleep(interval)
