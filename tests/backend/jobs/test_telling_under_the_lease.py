"""A campaign's audience told by the scheduler's job under its lease: a holder that loses the
lease in the middle of a batch stops there, and the next holder tells the rest, nobody
twice (``backend.campaigns.telling``, ``backend.jobs.lease``)."""

from __future__ import annotations

import asyncio

import pytest

from backend.campaigns.telling import tell_audiences
from backend.jobs.lease import LeaseLost
from realtime.publisher import EventPublisher
from tests import servers as test_servers
from tests.backend.campaigns import audiences
from tests.backend.jobs.test_lease import lease
from tests.conftest import LiveServer


async def test_a_lost_lease_stops_a_batch_and_the_next_holder_tells_the_rest(
    servers: test_servers.RunServers, live_server: LiveServer, publisher: EventPublisher
) -> None:
    gold = await audiences.gold_and_green(servers, 9)
    campaign = await audiences.start_gold_campaign(publisher, live_server.app.state.catalogue)
    first = lease(live_server, ttl_s=0.3)
    held = await first.acquire()
    assert held is not None
    # The batch waits on a member's account (a sale) while another process takes the lease
    # (the holder's renewal finds its key gone): the run is cancelled inside the batch.
    redis = live_server.app.state.redis
    key = f"{live_server.app.state.settings.redis_prefix}lease:{first.name}"

    async def taken_while_waiting() -> None:
        await audiences.waiting_for_a_lock(servers)
        await redis.set(key, "another holder")

    async with audiences.account_held(servers, gold[1]):
        taker = asyncio.create_task(taken_while_waiting())
        with pytest.raises(LeaseLost):
            await first.hold_while(held, lambda: tell_audiences(publisher, batch=audiences.BATCH))
        await taker
    cut = await audiences.telling_of(campaign)
    assert (cut["told"], cut["finished_at"]) == (1, None)

    # The next holder (its lease now free again) tells the rest.
    await redis.delete(key)
    again = await first.acquire()
    assert again is not None
    assert (
        await first.hold_while(again, lambda: tell_audiences(publisher, batch=audiences.BATCH)) == 4
    )
    assert await audiences.told(gold) == {member: [(1, "offer.available")] for member in gold}
