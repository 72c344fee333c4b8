"""Container restart back-off, as the kubelet's CrashLoopBackOff."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RestartBackoff:
    """Exponential back-off: ``initial`` doubling up to ``cap``; reset after ``reset_after``
    seconds of uninterrupted running (the kubelet uses 10 s, 300 s and 600 s)."""

    initial: float = 10.0
    cap: float = 300.0
    reset_after: float = 600.0
    _current: float = 0.0

    def next_delay(self, ran_for: float) -> float:
        """Delay before the next restart of a container that just exited after ``ran_for`` s."""
        if ran_for >= self.reset_after or self._current == 0.0:
            self._current = self.initial
        else:
            self._current = min(self._current * 2, self.cap)
        return self._current
