"""``astrocoffee scheduler``: the periodic jobs in a process of their own, until told to stop.

Serving processes can run the jobs too (``ASTROCOFFEE_MAINTENANCE_INTERVAL_S`` above 0, the
development default), but then a run holds up the event loop that answers sales; deployments
give the serving processes 0 and run this role instead (two replicas: the lease lets one work
and keeps the other ready). SIGTERM lets the run in hand finish.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from redis.asyncio import Redis

from backend.accounting.books import payment_provider
from backend.campaigns.catalogue import Catalogue
from backend.jobs.scheduler import MaintenanceLoop
from backend.orders.service import OrderService
from backend.settings import Settings, SettingsError
from realtime.publisher import EventPublisher
from realtime.redis_mode import connect_redis

log = logging.getLogger(__name__)


def stop_on_signals(stopping: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopping.set)


def jobs_of(settings: Settings, redis: Redis) -> MaintenanceLoop:
    """The periodic jobs as a process of their own runs them (the scheduler, and
    ``astrocoffee maintenance`` once): every job, with what each needs."""
    prefix = settings.redis_prefix
    publisher = EventPublisher(redis=redis, prefix=prefix)
    catalogue = Catalogue(redis=redis, prefix=prefix)
    orders = OrderService(
        provider=payment_provider(settings), publisher=publisher, catalogue=catalogue
    )
    return MaintenanceLoop.for_settings(
        settings, redis=redis, publisher=publisher, orders=orders, catalogue=catalogue
    )


async def run_scheduler(settings: Settings, stopping: asyncio.Event) -> None:
    """Run the jobs every interval until ``stopping`` is set (the pool is the caller's)."""
    if settings.redis_url is None:
        raise SettingsError("the scheduler needs REDIS_URL")
    if settings.maintenance_interval_s <= 0:
        raise SettingsError("the scheduler needs ASTROCOFFEE_MAINTENANCE_INTERVAL_S above 0")
    redis = connect_redis(settings.redis_url, cluster=settings.redis_cluster)
    loop = jobs_of(settings, redis)
    log.info("scheduler started", extra={"interval_s": settings.maintenance_interval_s})
    try:
        await loop.run_until(stopping)
    finally:
        await redis.aclose()
    log.info("scheduler stopped after finishing its run")
