from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from backend.jobs.scheduler import MaintenanceJobs, MaintenanceLoop
from db.tables import IdempotencyRecord, ProgramDay
from realtime.publisher import EventPublisher
from tests.conftest import LiveServer
from tests.factories import buy, log_in, open_till, purchase_body


async def test_idempotency_records_are_kept_for_the_ttl_then_purged(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till()
    member = await log_in(client, live_server.sms)
    body = purchase_body(member.card_number)
    await buy(client, till, body, key="first-key")  # its key is kept on its purchase
    # A till retrying the receipt under a new key: that key's answer is a record.
    await buy(client, till, body, key="old-key")
    state = live_server.app.state
    publisher = EventPublisher(redis=state.redis, prefix=state.settings.redis_prefix)

    jobs = MaintenanceJobs(publisher=publisher, idempotency_ttl_h=48)
    report = await jobs.run(evaluate_tiers_now=False)
    assert report.idempotency_records_purged == 0
    assert (await buy(client, till, body, key="old-key")).headers["idempotent-replayed"] == "true"

    later = datetime.now(UTC) + timedelta(hours=49)
    report = await jobs.run(now=later, evaluate_tiers_now=True)
    assert report.idempotency_records_purged == 1
    assert report.tiers_changed == 0
    assert await IdempotencyRecord.count() == 0


async def test_one_process_at_a_time_runs_the_jobs(live_server: LiveServer) -> None:
    state = live_server.app.state
    publisher = EventPublisher(redis=state.redis, prefix=state.settings.redis_prefix)

    def loop() -> MaintenanceLoop:
        return MaintenanceLoop(
            redis=state.redis,
            prefix=state.settings.redis_prefix,
            interval_s=60,
            jobs=MaintenanceJobs(publisher=publisher, idempotency_ttl_h=48),
        )

    first, second = loop(), loop()
    assert await first.run_once_if_leader() is not None
    assert await second.run_once_if_leader() is None  # the lease is taken for this interval


async def test_a_round_snapshots_the_programs_figures_about_hourly(live_server: LiveServer) -> None:
    state = live_server.app.state
    publisher = EventPublisher(redis=state.redis, prefix=state.settings.redis_prefix)
    now = datetime(2030, 6, 3, 12, tzinfo=UTC)

    async def snapshots(at: datetime) -> int:
        jobs = MaintenanceJobs(publisher=publisher, idempotency_ttl_h=48)
        report = await jobs.run(now=at, evaluate_tiers_now=False)
        return report.program_snapshots

    assert await snapshots(now) == 1
    assert await snapshots(now + timedelta(minutes=30)) == 0  # this hour's is taken
    assert await snapshots(now + timedelta(hours=1)) == 1
    assert [row["day"] for row in await ProgramDay.select(ProgramDay.day)] == [now.date()]
