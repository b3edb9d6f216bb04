from __future__ import annotations

import gc

from backend.ops import garbage
from tests.conftest import LiveServer


async def test_a_started_app_has_frozen_its_startup_objects(live_server: LiveServer) -> None:
    # The session's app froze what its startup left: full collections skip it from now on.
    assert gc.get_freeze_count() > 10_000


def test_freezing_happens_once_per_process() -> None:
    garbage.freeze_startup_objects()
    frozen = gc.get_freeze_count()
    later = [[n] for n in range(1000)]  # what requests would create
    garbage.freeze_startup_objects()
    assert gc.get_freeze_count() == frozen
    assert later


async def test_collector_passes_are_timed_on_metrics(live_server: LiveServer) -> None:
    import httpx

    gc.collect()
    async with httpx.AsyncClient(base_url=live_server.base_url) as client:
        text = (await client.get("/metrics")).text
    assert 'astrocoffee_gc_pause_seconds_count{generation="2"}' in text


async def test_a_started_app_collects_less_often_than_pythons_default(
    live_server: LiveServer,
) -> None:
    assert gc.get_threshold() == garbage.THRESHOLDS
