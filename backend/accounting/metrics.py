"""Outbox figures. The gauges are sampled by every app process (``backend.ops.sampler``)
and by the worker; all see the same table, so the multiprocess mode takes the maximum."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

OUTBOX_LAG = Gauge(
    "astrocoffee_outbox_lag_seconds",
    "Age of the oldest outbox message not yet delivered (0 when none waits).",
    multiprocess_mode="livemax",
)
OUTBOX_PENDING = Gauge(
    "astrocoffee_outbox_pending",
    "Outbox messages waiting for delivery.",
    multiprocess_mode="livemax",
)
DEAD_LETTERS = Gauge(
    "astrocoffee_outbox_dead_letters",
    "Outbox messages given up on (dead letters), waiting for an operator.",
    multiprocess_mode="livemax",
)
DELIVERED = Counter(
    "astrocoffee_outbox_delivered_total", "Outbox messages acknowledged by their receiver."
)
FAILED_ATTEMPTS = Counter(
    "astrocoffee_outbox_failed_attempts_total",
    "Delivery attempts that failed, by whether they will be retried.",
    ["retryable"],
)
