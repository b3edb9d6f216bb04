"""What the periodic jobs tell Prometheus: whether they run, and how much of their interval a
run takes (a run that needs most of it is a scheduler about to fall behind)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RUNS = Counter(
    "astrocoffee_maintenance_runs_total",
    "Maintenance runs started by the lease holder, by outcome (done, lease_lost, failed).",
    ["outcome"],
)
RUN_SECONDS = Histogram(
    "astrocoffee_maintenance_run_seconds",
    "Duration of a whole maintenance run (every job once).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
)
LAST_DONE = Gauge(
    "astrocoffee_maintenance_last_done_timestamp_seconds",
    "When the last maintenance run finished (Unix time); stale means nobody runs the jobs.",
    multiprocess_mode="max",
)
