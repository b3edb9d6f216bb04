from __future__ import annotations

import pytest

from backend.orders.breaker import CircuitBreaker, CircuitOpen


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_failures_in_a_row_then_lets_one_trial_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, reset_after_s=30, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.failed()
    breaker.before_call()
    breaker.succeeded()  # a success resets the count
    for _ in range(3):
        breaker.before_call()
        breaker.failed()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen):
        breaker.before_call()

    clock.now = 30
    assert breaker.state == "half_open"
    breaker.before_call()  # the one trial
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # no second call while the trial runs
    breaker.failed()
    assert breaker.state == "open"  # the trial failed: open again for a full period

    clock.now = 60
    breaker.before_call()
    breaker.succeeded()
    assert breaker.state == "closed"
    breaker.before_call()
