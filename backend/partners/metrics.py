"""What partner webhooks tell Prometheus. The gauges are sampled by every app process and by
the worker from the same tables, so the multiprocess mode takes the maximum."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SENT = Counter(
    "astrocoffee_partner_webhooks_sent_total",
    "Partner webhook deliveries the endpoint acknowledged (2xx).",
)
FAILED = Counter(
    "astrocoffee_partner_webhooks_failed_total",
    "Partner webhook attempts that failed, by why (status, network, address).",
    ["reason"],
)
LAG = Gauge(
    "astrocoffee_partner_webhooks_lag_seconds",
    "Age of the oldest event still waiting for an enabled endpoint (0 when none waits).",
    multiprocess_mode="livemax",
)
PENDING = Gauge(
    "astrocoffee_partner_webhooks_pending",
    "Deliveries waiting for enabled endpoints.",
    multiprocess_mode="livemax",
)
DISABLED = Gauge(
    "astrocoffee_partner_endpoints_disabled",
    "Endpoints the platform disabled after a failure run or a 410, waiting for an admin.",
    multiprocess_mode="livemax",
)
FEED_LAG = Gauge(
    "astrocoffee_partner_feed_lag_seconds",
    "How far behind the member streams the partner feed's last run ended (0: caught up).",
    multiprocess_mode="livemax",
)
