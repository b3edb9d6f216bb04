"""The scheduler's lease: one holder at a time, renewed while it works, lost by a holder that
stalls, and fenced so that a stale holder stops before its next job."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from backend.jobs.lease import Lease, LeaseLost
from tests.conftest import LiveServer


def lease(live_server: LiveServer, *, ttl_s: float) -> Lease:
    state = live_server.app.state
    return Lease(
        redis=state.redis,
        name=f"test-{uuid.uuid4().hex[:8]}",
        prefix=state.settings.redis_prefix,
        ttl_s=ttl_s,
    )


async def test_one_holder_at_a_time_and_each_holding_has_a_larger_fence(
    live_server: LiveServer,
) -> None:
    first = lease(live_server, ttl_s=5)
    second = Lease(
        redis=live_server.app.state.redis,
        name=first.name,
        prefix=live_server.app.state.settings.redis_prefix,
        ttl_s=5,
    )
    held = await first.acquire()
    assert held is not None
    assert await second.acquire() is None
    await first.release(held)  # given up at once
    again = await second.acquire()
    assert again is not None and again.fence > held.fence


async def test_a_run_longer_than_the_lease_keeps_it_by_renewing(live_server: LiveServer) -> None:
    short = lease(live_server, ttl_s=0.3)
    held = await short.acquire()
    assert held is not None
    rival = Lease(
        redis=live_server.app.state.redis,
        name=short.name,
        prefix=live_server.app.state.settings.redis_prefix,
        ttl_s=0.3,
    )
    tries: list[bool] = []

    async def long_work() -> str:
        for _ in range(8):  # 1.2 s: four times the lease
            await asyncio.sleep(0.15)
            tries.append(await rival.acquire() is None)
        return "done"

    assert await short.hold_while(held, long_work) == "done"
    assert tries == [True] * 8  # nobody else got it meanwhile


async def test_a_holder_whose_lease_is_gone_is_stopped_mid_run(live_server: LiveServer) -> None:
    short = lease(live_server, ttl_s=0.3)
    held = await short.acquire()
    assert held is not None
    finished = asyncio.Event()

    async def stalled_work() -> None:
        # As if the holder stalled past its lease: the key expired and somebody took it.
        await live_server.app.state.redis.delete(
            f"{live_server.app.state.settings.redis_prefix}lease:{short.name}"
        )
        await asyncio.sleep(2)
        finished.set()

    with pytest.raises(LeaseLost):
        await short.hold_while(held, stalled_work)
    assert not finished.is_set()


async def test_a_stale_holder_is_fenced_off_in_postgresql(live_server: LiveServer) -> None:
    name = lease(live_server, ttl_s=0.2)
    stale = await name.acquire()
    assert stale is not None
    await name.check_fence(stale)  # its first job runs
    await asyncio.sleep(0.4)  # it stalls; the lease expires, a new holder takes over
    fresh = await name.acquire()
    assert fresh is not None and fresh.fence > stale.fence
    await name.check_fence(fresh)
    with pytest.raises(LeaseLost):  # a stale holder runs no job after its successor
        await name.check_fence(stale)
    await name.check_fence(fresh)  # the current holder goes on


async def test_a_finished_run_keeps_the_lease_for_the_rest_of_the_interval(
    live_server: LiveServer,
) -> None:
    interval = lease(live_server, ttl_s=5)
    held = await interval.acquire()
    assert held is not None
    await interval.release(held, keep_until_s=0.5)
    assert await interval.acquire() is None  # this round is done: nobody runs it again
    await asyncio.sleep(0.7)
    assert await interval.acquire() is not None
