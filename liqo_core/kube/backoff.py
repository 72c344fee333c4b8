"""Exponential back-off: one for a loop that retries (a watch reconnecting, a container
restarting), and a per-key one for work queues (client-go's item exponential limiter)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays of ``initial`` doubling up to ``cap``, each spread by up to ``jitter`` (a
    fraction: 0.1 adds 0 to 10%); :meth:`reset` after a success starts again from ``initial``."""

    initial: float = 1.0
    cap: float = 30.0
    jitter: float = 0.0
    _current: float = 0.0

    def next_delay(self) -> float:
        """The delay before the next attempt (and doubles the one after)."""
        self._current = self.initial if not self._current else min(self._current * 2, self.cap)
        return self._current * (1 + random.random() * self.jitter) if self.jitter else self._current

    def reset(self) -> None:
        """Start again from ``initial``."""
        self._current = 0.0


@dataclass
class ItemBackoff:
    """Per-key retry delays: ``base * 2**failures`` up to ``cap``, forgotten on :meth:`forget`
    (client-go's ``ItemExponentialFailureRateLimiter``; its defaults are 5 ms and 1000 s)."""

    base: float = 0.005
    cap: float = 1000.0
    _failures: dict[str, int] = field(default_factory=dict)

    def when(self, key: str) -> float:
        """The delay before retrying ``key`` once more (counts one more failure)."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        return min(self.base * 2.0 ** min(failures, 64), self.cap)

    def retries(self, key: str) -> int:
        """How many times ``key`` failed since it was last forgotten."""
        return self._failures.get(key, 0)

    def forget(self, key: str) -> None:
        """``key`` succeeded: its next failure starts from ``base`` again."""
        self._failures.pop(key, None)
