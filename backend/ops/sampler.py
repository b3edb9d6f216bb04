"""Per-process gauges sampled every few seconds: connection pools (PostgreSQL, Redis), asyncio
tasks, readiness, and others handed in (the outbox figures).

They are sampled rather than computed at scrape time because, with several uvicorn workers
(prometheus-client's multiprocess mode), a scrape is answered by one worker and custom
collectors would only ever describe that one; sampled gauges are written to the shared
files and added up (``livesum``) or taken at their worst (``livemin``) over live workers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import Gauge
from redis.asyncio import Redis

from backend.ops.replica_lag import sample_replica_lag
from db.periodic import Periodic
from db.pool import engine
from realtime.redis_mode import redis_mode_of

log = logging.getLogger(__name__)

POOL_CONNECTIONS = Gauge(
    "astrocoffee_db_pool_connections",
    "PostgreSQL pool connections by node (primary, replica) and state (in_use, idle).",
    ["node", "state"],
    multiprocess_mode="livesum",
)
REDIS_CONNECTIONS = Gauge(
    "astrocoffee_redis_pool_connections",
    "Redis client connections of the process's pool by state (in_use, idle); a pub/sub "
    "subscription holds one in use.",
    ["state"],
    multiprocess_mode="livesum",
)
ASYNCIO_TASKS = Gauge(
    "astrocoffee_asyncio_tasks",
    "asyncio tasks not yet done in the process's event loop (one per open WebSocket and "
    "more; a count that only grows is a leak).",
    multiprocess_mode="livesum",
)
READY = Gauge(
    "astrocoffee_ready",
    "1 when this process reaches PostgreSQL and Redis (the readiness probe's checks), else 0.",
    multiprocess_mode="livemin",
)


class ProcessSampler:
    def __init__(
        self,
        *,
        is_ready: Callable[[], Awaitable[bool]],
        also: Sequence[Callable[[], Awaitable[None]]] = (),
        redis: Redis | None = None,
        interval_s: float = 5.0,
    ):
        self._is_ready = is_ready
        self._redis = redis
        self._also = tuple(also)
        self._every = Periodic(self.sample, interval_s=interval_s, name="process-sampler")

    async def start(self) -> None:
        await self.sample()
        self._every.start()

    async def stop(self) -> None:
        await self._every.stop()

    async def sample(self) -> None:
        nodes = {"primary": engine(), **engine().extra_nodes}
        for name, node in nodes.items():
            pool = node.pool
            if pool is None:
                continue
            idle = pool.get_idle_size()
            POOL_CONNECTIONS.labels(name, "in_use").set(pool.get_size() - idle)
            POOL_CONNECTIONS.labels(name, "idle").set(idle)
        if self._redis is not None:
            in_use, idle = redis_mode_of(self._redis).connection_counts()
            REDIS_CONNECTIONS.labels("in_use").set(in_use)
            REDIS_CONNECTIONS.labels("idle").set(idle)
        ASYNCIO_TASKS.set(len(asyncio.all_tasks()))
        sample_replica_lag()
        ready = await self._is_ready()
        READY.set(1 if ready else 0)
        if not ready:
            log.warning("this process cannot reach PostgreSQL or Redis (readiness gauge 0)")
        if ready:
            for sample in self._also:
                # A feature's figures (partner deliveries, pushes) are gauges, not the process's
                # health: one failing query (a slow pool at startup) must not stop the app.
                try:
                    await sample()
                except Exception as exc:  # logged; sampled again next time
                    log.warning("sampling %s failed: %s", getattr(sample, "__name__", sample), exc)
