"""The CLI's commands for periodic and background work, apart from ``backend.cli`` (the
parser and the one-off commands): the scheduler, the accounting worker, and one run of a
job by hand. Each runs on a pool of its own, opened and closed around the work."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from backend.settings import Settings, SettingsError


def with_pool(work: Callable[[], Awaitable[int]]) -> int:
    from db.pool import close_pool, start_pool

    async def run() -> int:
        await start_pool()
        try:
            return await work()
        finally:
            await close_pool()

    return asyncio.run(run())


def _redis(settings: Settings) -> Any:
    from realtime.redis_mode import connect_redis

    assert settings.redis_url is not None
    return connect_redis(settings.redis_url, cluster=settings.redis_cluster)


def _publisher(settings: Settings) -> Any:
    from realtime.publisher import EventPublisher

    return EventPublisher(redis=_redis(settings), prefix=settings.redis_prefix)


def _until_signalled(
    settings: Settings,
    metrics_port: int | None,
    work: Callable[[asyncio.Event], Awaitable[None]],
) -> int:
    """A process of its own: its /metrics on ``metrics_port`` (if set), then ``work`` on a
    pool until SIGTERM or SIGINT sets the event it is given (it finishes what it holds)."""
    from prometheus_client import start_http_server

    from backend.jobs.runner import stop_on_signals

    if metrics_port:
        start_http_server(metrics_port, addr=settings.host)

    async def run() -> int:
        stopping = asyncio.Event()
        stop_on_signals(stopping)
        await work(stopping)
        return 0

    return with_pool(run)


def expire_points_command(settings: Settings, _: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from backend.loyalty.expiry import expire_points

    async def work() -> int:
        expired = await expire_points(_publisher(settings), now=datetime.now(UTC))
        print(f"expired {expired} points")
        return 0

    return with_pool(work)


def evaluate_tiers_command(settings: Settings, _: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from backend.loyalty.rules import current_rules
    from backend.loyalty.tiers import evaluate_tiers

    async def work() -> int:
        rules = (await current_rules()).rules
        changed = await evaluate_tiers(_publisher(settings), rules, now=datetime.now(UTC))
        print(f"{changed} tiers changed")
        return 0

    return with_pool(work)


def maintenance_command(settings: Settings, _: argparse.Namespace) -> int:
    from backend.jobs.runner import jobs_of

    async def work() -> int:
        print(await jobs_of(settings, _redis(settings)).run_once())
        return 0

    return with_pool(work)


def scheduler_command(settings: Settings, _: argparse.Namespace) -> int:
    from backend.jobs.runner import run_scheduler

    if settings.maintenance_interval_s <= 0:
        raise SettingsError("the scheduler needs ASTROCOFFEE_MAINTENANCE_INTERVAL_S above 0")

    async def rounds(stopping: asyncio.Event) -> None:
        await run_scheduler(settings, stopping)

    return _until_signalled(settings, settings.scheduler_metrics_port, rounds)


def worker_command(settings: Settings, _: argparse.Namespace) -> int:
    from prometheus_client import start_http_server

    from backend.accounting.client import AccountingClient
    from backend.accounting.outbox import DeliveryPolicy
    from backend.accounting.worker import OutboxWorker

    if settings.accounting_url is None:
        raise SettingsError("the worker needs ASTROCOFFEE_ACCOUNTING_URL")
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.host)
    client = AccountingClient(url=settings.accounting_url, token=settings.accounting_token)
    policy = DeliveryPolicy(
        max_attempts=settings.outbox_max_attempts,
        backoff_base_s=settings.outbox_backoff_base_s,
    )

    async def work() -> int:
        worker = OutboxWorker(client=client, policy=policy, batch_size=settings.outbox_batch_size)
        worker.stop_on_signals()
        try:
            await worker.run()
        finally:
            await client.aclose()
        return 0

    return with_pool(work)


def partner_webhooks_command(settings: Settings, _: argparse.Namespace) -> int:
    from backend.partners.addresses import AddressPolicy
    from backend.partners.delivery import DeliveryPolicy, PartnerClient
    from backend.partners.worker import send_until

    async def deliveries(stopping: asyncio.Event) -> None:
        client = PartnerClient(addresses=AddressPolicy.for_environment(settings.environment))
        try:
            await send_until(stopping, client, DeliveryPolicy())
        finally:
            await client.aclose()

    return _until_signalled(settings, settings.partner_worker_metrics_port, deliveries)


def push_worker_command(settings: Settings, _: argparse.Namespace) -> int:
    from backend.push.live_sockets import LiveDevices
    from backend.push.queue import PushPolicy
    from backend.push.setup import providers_for
    from backend.push.worker import push_until

    async def pushes(stopping: asyncio.Event) -> None:
        providers = providers_for(settings)
        redis = _redis(settings)
        live = LiveDevices(redis, prefix=settings.redis_prefix)
        try:
            await push_until(
                stopping, providers, PushPolicy(), live=live, daily_cap=settings.push_daily_cap
            )
        finally:
            await redis.aclose()
            for provider in providers.values():
                await provider.aclose()

    return _until_signalled(settings, settings.push_worker_metrics_port, pushes)
