"""A small circuit breaker for calls to one external system.

Hand-written on purpose: the maintained Python breakers are synchronous (pybreaker) or pull
in a framework of their own; this one is the few lines asyncio code needs. After
``threshold`` failures in a row it opens: calls fail at once, without waiting on a system
that is down, for ``reset_after_s``; then one trial call is let through (half open), and
its outcome closes or re-opens the circuit.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitOpen(Exception):
    """The external system failed repeatedly; calls are refused for a while."""


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        what: str = "the payment provider",
    ) -> None:
        self._what = what
        self._threshold = threshold
        self._reset_after_s = reset_after_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._reset_after_s:
            return "half_open"
        return "open"

    @property
    def trial_in_s(self) -> float:
        """Seconds until the open circuit lets a trial call through (0 when it would now)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._reset_after_s - (self._clock() - self._opened_at))

    def before_call(self) -> None:
        state = self.state
        if state == "open" or (state == "half_open" and self._trial_running):
            raise CircuitOpen(f"{self._what} is failing; not calling it for a while")
        if state == "half_open":
            self._trial_running = True

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def failed(self) -> None:
        self._failures += 1
        self._trial_running = False
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock()
