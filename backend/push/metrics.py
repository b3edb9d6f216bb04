"""What push tells Prometheus: every attempt's outcome by provider, and how long a push
waited in the queue before its provider took it, the providers' circuits, the queue's lag."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OUTCOMES = Counter(
    "astrocoffee_push_attempts_total",
    "Push attempts by provider and outcome (delivered, pruned, retry_after, failed, dead).",
    ["provider", "outcome"],
)
QUEUED_FOR = Histogram(
    "astrocoffee_push_queued_seconds",
    "From a push's queueing to its provider's acceptance.",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600),
)
CIRCUIT_OPEN = Gauge(
    "astrocoffee_push_circuit_open",
    "1 while a push provider's circuit breaker is open or half open (its pushes put off).",
    ["provider"],
)
PAUSED = Counter(
    "astrocoffee_push_paused_total",
    "Pushes put off, not attempted, because their provider's circuit was open.",
    ["provider"],
)
LAG = Gauge(
    "astrocoffee_push_lag_seconds",
    "Age of the oldest due push still pending (0 when none is due).",
)
PENDING = Gauge("astrocoffee_push_pending", "Push deliveries waiting to be sent.")
DEAD_LETTERS = Gauge(
    "astrocoffee_push_dead_letters", "Push deliveries given up on (retry them as an admin)."
)
