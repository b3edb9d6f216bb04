"""Prometheus figures of the realtime gateway (exposed by the app's ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Gauges say how to add up the processes of a multiprocess server (PROMETHEUS_MULTIPROC_DIR):
# "livesum" counts only processes that are alive.
CONNECTIONS = Gauge(
    "astrocoffee_websocket_connections",
    "Open WebSocket connections.",
    multiprocess_mode="livesum",
)
CLOSED = Counter(
    "astrocoffee_websocket_closed_total", "WebSocket connections closed, by reason.", ["reason"]
)
DELIVERED = Counter(
    "astrocoffee_websocket_frames_sent_total", "Event frames sent to clients (live or replayed)."
)
REPLAYED = Counter(
    "astrocoffee_websocket_replays_total", "Gap fills and resumes served from PostgreSQL."
)
PUBLISH_FAILURES = Counter(
    "astrocoffee_event_publish_failures_total", "Batches of events Redis did not take."
)
SUBSCRIBED_CHANNELS = Gauge(
    "astrocoffee_realtime_subscribed_channels",
    "Redis channels subscribed to by the hubs.",
    multiprocess_mode="livesum",
)
PUBLISH_LAG = Histogram(
    "astrocoffee_event_publish_lag_seconds",
    "From an event's commit to its publication on Redis (relayed events included).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
REDIS_RECONNECTS = Counter(
    "astrocoffee_realtime_redis_reconnects_total", "Times the hub reconnected to Redis."
)
LIVE_MARKS_FAILED = Counter(
    "astrocoffee_websocket_live_marks_failed_total",
    "Records of a device's open socket (realtime.live_sockets) Redis did not take.",
)
