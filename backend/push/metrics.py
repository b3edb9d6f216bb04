"""What push tells Prometheus: every attempt's outcome by provider, and how long a push
waited in the queue before its provider took it."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
