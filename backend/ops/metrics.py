"""Prometheus metrics at ``GET /metrics``: Litestar's request metrics plus ours.

The HTTP request counters and latency histograms come from Litestar's Prometheus plugin;
ledger, event-publishing and WebSocket figures are defined here and in ``realtime.metrics``.
With several uvicorn workers, set ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
multiprocess mode) so that the figures of all workers are added up.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from prometheus_client import Counter

from backend.auth.access import allow
from backend.auth.callers import Role

PROMETHEUS = PrometheusConfig(
    app_name="astrocoffee",
    prefix="astrocoffee",
    group_path=True,  # label by route template, not by each member's or store's id
    exclude=["^/metrics$"],
    # HTTP only: on a WebSocket its middleware would hold a request, labels and a wrapped send
    # for the socket's whole life (~3 KiB each); sockets have figures of their own
    # (realtime.metrics).
    scopes={ScopeType.HTTP},
)

LEDGER_ENTRIES = Counter(
    "astrocoffee_ledger_entries_total",
    "Ledger entries written, by kind (counted at write; a rare rolled-back retry counts too).",
    ["kind"],
)
LEDGER_POINTS = Counter(
    "astrocoffee_ledger_points_total",
    "Points moved by ledger entries, by kind and direction.",
    ["kind", "direction"],
)

SALES_READ_AGAIN = Counter(
    "astrocoffee_sales_read_again_total",
    "Plain sales whose unlocked read of the buyer another change to the member overtook, so"
    " the sale ran again under the lock (backend.till.purchases).",
)


class MetricsController(PrometheusController):
    path = "/metrics"
    # Scraped from inside the cluster; the edge (nginx, ingress) does not route it.
    opt = allow(Role.ANONYMOUS)
    include_in_schema = False


def count_ledger_entries(kind: str, points: int) -> None:
    LEDGER_ENTRIES.labels(kind).inc()
    if points:
        LEDGER_POINTS.labels(kind, "in" if points > 0 else "out").inc(abs(points))
