"""``astrocoffee scheduler``'s loop: runs the jobs every interval under the lease, and a stop
lets the run in hand finish."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from backend.jobs.runner import run_scheduler
from backend.settings import SettingsError
from db.tables import Campaign, JobFence
from tests.conftest import LiveServer


async def test_the_scheduler_runs_the_jobs_each_interval_and_stops_when_told(
    live_server: LiveServer,
) -> None:
    settings = msgspec.structs.replace(live_server.app.state.settings, maintenance_interval_s=1)
    now = datetime.now(UTC)
    campaign = Campaign(
        name="Starts by itself",
        kind="bonus",
        rule={"type": "bonus", "points": 5, "min_amount": 100},
        targeting={},
        status="scheduled",
        starts_at=now + timedelta(seconds=1),
        created_at=now,
        updated_at=now,
    )
    await campaign.save()
    stopping = asyncio.Event()
    scheduler = asyncio.create_task(run_scheduler(settings, stopping))
    try:
        for _ in range(100):  # its start comes within a second; a round follows each second
            await asyncio.sleep(0.1)
            row = await Campaign.select(Campaign.status).where(Campaign.id == campaign.id).first()
            if row is not None and row["status"] == "active":
                break
        assert row == {"status": "active"}
        fence = await JobFence.select(JobFence.fence).where(JobFence.name == "maintenance").first()
        assert fence is not None and fence["fence"] >= 1
    finally:
        stopping.set()
        await asyncio.wait_for(scheduler, 10)


async def test_a_scheduler_without_an_interval_refuses_to_start(live_server: LiveServer) -> None:
    settings = msgspec.structs.replace(live_server.app.state.settings, maintenance_interval_s=0)
    with pytest.raises(SettingsError):
        await run_scheduler(settings, asyncio.Event())
