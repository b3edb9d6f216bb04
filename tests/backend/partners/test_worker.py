"""``astrocoffee partner-webhooks`` as a process: it sends what the feed queued, and a SIGTERM
lets it finish and exit."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time

from backend.partners.feed import feed_partners
from tests.backend.partners.conftest import Scene, deliveries
from tests.cli import SCRIPT, run_env, terminated
from tests.servers import ROOT, RunServers


async def test_the_worker_sends_what_the_feed_queued_and_stops_on_sigterm(
    scene: Scene, servers: RunServers
) -> None:
    await scene.register("sale.completed")
    for _ in range(3):
        await scene.one_sale()
    assert await feed_partners() == 3
    worker = subprocess.Popen(
        [str(SCRIPT), "partner-webhooks"],
        env=run_env(servers, ASTROCOFFEE_PARTNER_WORKER_METRICS_PORT="0"),
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(scene.receiver.received) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        status, log = await terminated(worker)
    assert status in (0, 128 + signal.SIGTERM), log
    assert len(scene.receiver.received) == 3, log
    assert {d["status"] for d in await deliveries()} == {"delivered"}
    assert "partner webhook worker stopped" in log
