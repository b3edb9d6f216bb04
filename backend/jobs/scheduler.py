"""The periodic jobs (relay of unpublished events, holds, pending points, expiry, idempotency
purge, tiers, app orders whose payment webhook is late, campaigns starting and ending and
their targeted audiences told in batches, delivered outbox messages past their retention,
unfinished erasures, the audit trail's retention, the program's daily figures, partner
webhooks queued from the committed member events, push notifications from them, and the daily
push notices on each member's local morning: points expiring, birthdays), run by
``astrocoffee scheduler`` (and by serving processes whose interval is above 0), one process
at a time through a renewed, fenced lease (``backend.jobs.lease``), once per interval;
``astrocoffee maintenance`` runs them once.

Every job is safe to run concurrently and to re-run, so the lease only saves duplicate work;
losing it (Redis down, a process killed) delays the jobs, it does not break them. A run that
takes longer than the lease keeps it by renewing; a holder that lost it stops before its next
job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.accounting.outbox import purge_delivered
from backend.audit.retention import purge_audit
from backend.auth.sessions import SessionStore
from backend.campaigns.catalogue import Catalogue
from backend.campaigns.service import start_and_end_on_time
from backend.campaigns.telling import tell_audiences
from backend.idempotency import purge_records
from backend.jobs.lease import Lease, LeaseLost
from backend.jobs.metrics import LAST_DONE, RUN_SECONDS, RUNS
from backend.loyalty.expiry import expire_points, release_pending
from backend.loyalty.program_days import take_snapshot
from backend.loyalty.rules import current_rules
from backend.loyalty.tiers import evaluate_tiers
from backend.members.erasure import ErasureCleanup
from backend.members.qr import QrTokens
from backend.orders.service import OrderService
from backend.partners.feed import feed_partners
from backend.push.daily_cap import DAILY_CAP
from backend.push.queue import feed_push_caught_up
from backend.push.scheduled_kinds import EXPIRY_NOTICE_DAYS, queue_daily_notices
from backend.settings import Settings
from backend.stores.folding import FIGURES_INTERVAL_S, FiguresLoop, fold_committed_sales
from backend.streams.relay import relay_unpublished
from backend.till.checkout_expiry import expire_holds
from realtime.publisher import EventPublisher

log = logging.getLogger(__name__)
TIER_EVALUATION_EVERY_S = 24 * 3600
# How long a holder that stopped renewing keeps the lease: a stalled or killed scheduler is
# replaced within this, and a live one renews every third of it.
LEASE_TTL_S = 30.0
DEFAULT_AUDIT_RETENTION_DAYS = Settings().audit_retention_days


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one round did: each job's count (0: that job is not run here; ``tiers_changed``
    is None in a round that did not evaluate tiers)."""

    holds_expired: int = 0
    points_released: int = 0
    points_expired: int = 0
    idempotency_records_purged: int = 0
    tiers_changed: int | None = None
    events_relayed: int = 0
    orders_settled: int = 0
    campaigns_started_or_ended: int = 0
    audit_entries_purged: int = 0
    outbox_messages_purged: int = 0
    erasures_finished: int = 0
    sales_folded: int = 0
    members_told: int = 0
    program_snapshots: int = 0
    partner_deliveries_queued: int = 0
    pushes_queued: int = 0
    daily_notices_queued: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceJobs:
    """Every periodic job, and what they are told: retention, caps, and the services some of
    them need (None: that job is not run here)."""

    publisher: EventPublisher
    idempotency_ttl_h: int
    orders: OrderService | None = None
    catalogue: Catalogue | None = None
    outbox_retention_days: int | None = None
    audit_retention_days: int = DEFAULT_AUDIT_RETENTION_DAYS
    erasures: ErasureCleanup | None = None
    push_daily_cap: int = DAILY_CAP
    push_expiry_notice_days: int = EXPIRY_NOTICE_DAYS

    async def run(
        self,
        *,
        evaluate_tiers_now: bool,
        now: datetime | None = None,
        before_each: Callable[[], Awaitable[None]] | None = None,
    ) -> MaintenanceReport:
        """Run every job once; ``before_each`` (the lease's fence check) may stop the run
        between two jobs by raising."""
        now = now or datetime.now(UTC)
        publisher, orders, catalogue = self.publisher, self.orders, self.catalogue
        daily_cap = self.push_daily_cap
        # Each job's count, under its name in the report.
        counts: dict[str, int] = {}

        async def step(count: str, job: Callable[[], Awaitable[int]]) -> None:
            if before_each is not None:
                await before_each()
            counts[count] = await job()

        await step("events_relayed", lambda: relay_unpublished(publisher, now=now))
        # Also folded every FIGURES_INTERVAL_S beside the round (FiguresLoop); here for a round
        # run once (``astrocoffee maintenance``).
        await step("sales_folded", lambda: fold_committed_sales(publisher))
        await step("holds_expired", lambda: expire_holds(publisher, now=now))
        await step("points_released", lambda: release_pending(publisher, now=now))
        await step("points_expired", lambda: expire_points(publisher, now=now))
        kept_from = now - timedelta(hours=self.idempotency_ttl_h)
        await step("idempotency_records_purged", lambda: purge_records(before=kept_from))
        if evaluate_tiers_now:

            async def tiers_job() -> int:
                return await evaluate_tiers(publisher, (await current_rules()).rules, now=now)

            await step("tiers_changed", tiers_job)
        if orders is not None and orders.has_provider:
            await step("orders_settled", lambda: orders.poll(now=now))
        if catalogue is not None:
            await step(
                "campaigns_started_or_ended",
                lambda: start_and_end_on_time(publisher, catalogue, now=now),
            )
        # Targeted audiences of campaigns that started or ended (here or by a request), in
        # batches within a third of the interval; what is left goes on next run.
        await step("members_told", lambda: tell_audiences(publisher))
        if self.outbox_retention_days is not None:
            oldest_kept = (now - timedelta(days=self.outbox_retention_days)).date()
            await step("outbox_messages_purged", lambda: purge_delivered(before=oldest_kept))
        audit_kept_from = now - timedelta(days=self.audit_retention_days)
        await step("audit_entries_purged", lambda: purge_audit(before=audit_kept_from))
        if self.erasures is not None:
            await step("erasures_finished", self.erasures.finish_erasures)
        # About hourly whatever the interval: the snapshot says when it was last taken.
        await step("program_snapshots", lambda: take_snapshot(now=now))
        # Committed member events to the partner endpoints that subscribe (the worker sends).
        await step("partner_deliveries_queued", lambda: feed_partners(now=now))
        # Committed sales to the members' devices (the push worker sends).
        await step("pushes_queued", lambda: feed_push_caught_up(now=now, daily_cap=daily_cap))
        # Points about to expire and birthdays, on each member's local morning.
        notice_days = self.push_expiry_notice_days
        await step(
            "daily_notices_queued",
            lambda: queue_daily_notices(now=now, days=notice_days, daily_cap=daily_cap),
        )
        return MaintenanceReport(**counts)


class MaintenanceLoop:
    def __init__(
        self,
        *,
        redis: Redis,
        prefix: str,
        interval_s: int,
        jobs: MaintenanceJobs,
        lease_ttl_s: float = LEASE_TTL_S,
    ) -> None:
        self._lease = Lease(redis=redis, name="maintenance", prefix=prefix, ttl_s=lease_ttl_s)
        self._redis = redis
        self._prefix = prefix
        self._interval_s = interval_s
        self._jobs = jobs
        self._task: asyncio.Task[None] | None = None
        # Store figures are folded far more often than the round runs, without the lease
        # (folders exclude each other in the database).
        self._figures = FiguresLoop(publisher=jobs.publisher, interval_s=FIGURES_INTERVAL_S)

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        *,
        redis: Redis,
        publisher: EventPublisher,
        orders: OrderService | None,
        catalogue: Catalogue | None,
    ) -> MaintenanceLoop:
        """The loop a serving process or the scheduler runs, as the settings say."""
        jobs = MaintenanceJobs(
            publisher=publisher,
            idempotency_ttl_h=settings.idempotency_ttl_h,
            orders=orders,
            catalogue=catalogue,
            outbox_retention_days=settings.outbox_retention_days,
            audit_retention_days=settings.audit_retention_days,
            push_daily_cap=settings.push_daily_cap,
            push_expiry_notice_days=settings.push_expiry_notice_days,
            erasures=ErasureCleanup(
                sessions=SessionStore(
                    redis=redis, prefix=settings.redis_prefix, ttl_s=settings.refresh_token_ttl_s
                ),
                qr_tokens=QrTokens(redis=redis, prefix=settings.redis_prefix),
            ),
        )
        return cls(
            redis=redis,
            prefix=settings.redis_prefix,
            interval_s=settings.maintenance_interval_s,
            jobs=jobs,
        )

    async def start(self) -> None:
        if self._interval_s > 0:
            self._task = asyncio.create_task(self._run(), name="maintenance")
            await self._figures.start()

    async def stop(self) -> None:
        await self._figures.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        await self.run_until(asyncio.Event(), first_wait=True)

    async def run_until(self, stopping: asyncio.Event, *, first_wait: bool = False) -> None:
        """A round every interval until ``stopping`` is set; a stop waits for the round in
        hand (its jobs are transactions: cancelling one would only redo it next time)."""
        await self._figures.start()
        try:
            await self._rounds_until(stopping, first_wait=first_wait)
        finally:
            await self._figures.stop()

    async def _rounds_until(self, stopping: asyncio.Event, *, first_wait: bool) -> None:
        wait = first_wait
        while not stopping.is_set():
            if wait:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self._interval_s)
                if stopping.is_set():
                    return
            wait = True
            try:
                await self.run_once_if_leader()
            except asyncio.CancelledError:
                raise
            except Exception:
                RUNS.labels("failed").inc()
                log.exception("maintenance run failed; retrying next interval")

    async def run_once(self) -> MaintenanceReport:
        """Every job once, tiers included, without the lease (``astrocoffee maintenance``:
        the jobs are safe beside a scheduler's run)."""
        return await self._jobs.run(evaluate_tiers_now=True)

    async def run_once_if_leader(self) -> MaintenanceReport | None:
        try:
            held = await self._lease.acquire()
            tiers_due = held is not None and await self._redis.set(
                f"{self._prefix}maintenance:tiers", 1, nx=True, ex=TIER_EVALUATION_EVERY_S
            )
        except RedisError as exc:
            log.warning("maintenance skipped, Redis unavailable: %s", exc)
            return None
        if held is None:
            return None
        started = time.monotonic()
        try:
            report = await self._lease.hold_while(
                held,
                lambda: self._jobs.run(
                    evaluate_tiers_now=bool(tiers_due),
                    before_each=lambda: self._lease.check_fence(held),
                ),
            )
        except LeaseLost as lost:
            RUNS.labels("lease_lost").inc()
            log.warning("maintenance stopped: %s", lost)
            return None
        finally:
            # Kept for the rest of the interval: the other processes skip this round.
            with contextlib.suppress(RedisError):
                await self._lease.release(held, keep_until_s=self._interval_s)
        RUNS.labels("done").inc()
        RUN_SECONDS.observe(time.monotonic() - started)
        LAST_DONE.set_to_current_time()
        log.info("maintenance done", extra={"report": str(report)})
        return report
