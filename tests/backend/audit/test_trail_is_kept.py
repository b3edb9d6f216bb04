"""Nobody changes or deletes the audit trail through the application's database role: the
database itself refuses; only the retention purge removes entries, and only old ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import time_machine

from backend.audit.retention import purge_audit
from backend.audit.trail import record
from backend.jobs.scheduler import MaintenanceJobs
from db import sql
from db.pool import engine
from realtime.publisher import EventPublisher
from tests.backend.audit.support import entries
from tests.conftest import LiveServer

# Well in the past of any machine running these tests, so that the database's own 30-day
# floor (judged by its clock, which tests do not move) never decides a case below.
NEW_YEAR = datetime(2025, 1, 1, 9, tzinfo=UTC)


async def write(action: str, at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        await record(action, target_type="test", target_id=action)


async def test_an_entry_cannot_be_changed_or_deleted(live_server: LiveServer) -> None:
    await write("kept", NEW_YEAR)
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only: UPDATE"):
        await sql.fetch("UPDATE audit_entry SET action = 'rewritten'")
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only: DELETE"):
        await sql.fetch("DELETE FROM audit_entry")
    # Naming a cutoff in a transaction of one's own does not reach today's rows either.
    await record("recent", target_type="test", target_id="recent")
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only: DELETE"):
        async with engine().transaction():
            await sql.fetch(
                "SELECT set_config('astrocoffee.audit_purge_before', {cutoff}, true)",
                cutoff=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
            )
            await sql.fetch("DELETE FROM audit_entry WHERE action = 'recent'")
    assert [entry["action"] for entry in await entries()] == ["kept", "recent"]


async def test_the_purge_removes_only_what_is_older_than_the_retention(
    live_server: LiveServer,
) -> None:
    for day in range(5):
        await write(f"old {day}", NEW_YEAR + timedelta(days=day))
    await write("young", NEW_YEAR + timedelta(days=70))

    # Batches of two: three transactions, each naming its cutoff.
    purged = await purge_audit(before=NEW_YEAR + timedelta(days=60), batch=2)
    assert purged == 5
    assert [entry["action"] for entry in await entries()] == ["young"]


async def test_the_periodic_jobs_purge_by_the_retention_setting(
    live_server: LiveServer,
) -> None:
    await write("old", NEW_YEAR)
    await write("young", NEW_YEAR + timedelta(days=40))
    state = live_server.app.state
    publisher = EventPublisher(redis=state.redis, prefix=state.settings.redis_prefix)
    jobs = MaintenanceJobs(publisher=publisher, idempotency_ttl_h=48, audit_retention_days=60)
    report = await jobs.run(now=NEW_YEAR + timedelta(days=75), evaluate_tiers_now=False)
    assert report.audit_entries_purged == 1
    assert [entry["action"] for entry in await entries()] == ["young"]


async def test_a_purge_whose_clock_runs_ahead_keeps_the_last_month(
    live_server: LiveServer,
) -> None:
    await record("today", target_type="test", target_id="today")
    assert await purge_audit(before=datetime.now(UTC) + timedelta(days=1)) == 0
    assert [entry["action"] for entry in await entries()] == ["today"]
