"""The event loop's lag histogram, and the stall log naming what held the loop."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from backend.ops.loop_watch import LOOP_LAG, LoopWatch


def _count() -> float:
    return next(s.value for s in LOOP_LAG.collect()[0].samples if s.name.endswith("_count"))


def _hold_the_loop_for(seconds: float) -> None:
    time.sleep(seconds)  # a blocking call on the loop, as a slow synchronous step would be


async def test_the_heartbeat_records_how_late_the_loop_ran() -> None:
    before = _count()
    watch = LoopWatch(interval_s=0.01)
    await watch.start()
    try:
        await asyncio.sleep(0.1)
    finally:
        await watch.stop()
    assert _count() > before


async def test_a_stall_is_logged_with_what_held_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    watch = LoopWatch(interval_s=0.01, stall_ms=20)
    await watch.start()
    try:
        with caplog.at_level(logging.WARNING, logger="backend.ops.loop_watch"):
            await asyncio.sleep(0.05)  # the heartbeat runs, the watcher sees it beat
            _hold_the_loop_for(0.3)
            await asyncio.sleep(0.05)  # the loop moves again: the watcher writes the stall
            for _ in range(50):
                if caplog.records:
                    break
                await asyncio.sleep(0.01)
    finally:
        await watch.stop()
    [record] = caplog.records
    assert record.getMessage().startswith("event loop stalled ")
    assert "_hold_the_loop_for" in record.getMessage()


async def test_without_a_stall_threshold_no_thread_watches() -> None:
    watch = LoopWatch(interval_s=0.01)
    await watch.start()
    try:
        assert watch._thread is None
    finally:
        await watch.stop()
