"""Prometheus figures of the realtime gateway (exposed by the app's ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CONNECTIONS = Gauge(
    "astrocoffee_websocket_connections", "Open WebSocket connections in this process."
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
    "astrocoffee_realtime_subscribed_channels", "Redis channels this process subscribes to."
)
REDIS_RECONNECTS = Counter(
    "astrocoffee_realtime_redis_reconnects_total", "Times the hub reconnected to Redis."
)
