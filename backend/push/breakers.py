"""A circuit breaker per push provider (``backend.orders.breaker``, the payment provider's).

A provider that keeps failing (outages: 5xx, no connection) is paused: while its circuit is
open the worker does not call it, and its due pushes are put off until the trial call, not
dropped and not counted as attempts (``max_attempts`` is spent on real tries only). Once the
pause is over one push goes through as the trial (half open); its outcome closes or re-opens
the circuit. Any answer that is not an outage (delivered, gone, wait, refused) means the
provider is up.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from backend.orders.breaker import CircuitBreaker, CircuitOpen
from backend.push import metrics
from backend.push.providers import Failed, Outcome

THRESHOLD = 5
PAUSE_S = 60.0

__all__ = ["CircuitOpen", "ProviderBreakers"]


class ProviderBreakers:
    """One breaker per provider name, made on first use; the worker keeps one set."""

    def __init__(
        self,
        *,
        threshold: int = THRESHOLD,
        pause_s: float = PAUSE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._pause_s = pause_s
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def of(self, provider: str) -> CircuitBreaker:
        if provider not in self._breakers:
            self._breakers[provider] = CircuitBreaker(
                threshold=self._threshold,
                reset_after_s=self._pause_s,
                clock=self._clock,
                what=f"push provider {provider}",
            )
        return self._breakers[provider]

    def before_send(self, provider: str) -> None:
        """Raises ``CircuitOpen`` while the provider is paused."""
        self.of(provider).before_call()

    def record(self, provider: str, outcome: Outcome) -> None:
        breaker = self.of(provider)
        if isinstance(outcome, Failed) and outcome.retryable:
            breaker.failed()
        else:
            breaker.succeeded()
        metrics.CIRCUIT_OPEN.labels(provider=provider).set(breaker.state != "closed")

    def paused_for_s(self, provider: str) -> float:
        return self.of(provider).trial_in_s
