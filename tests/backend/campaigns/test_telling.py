"""A targeted campaign's audience told in batches: every member once, in order, whatever
stops a batch halfway (``backend.campaigns.telling``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from backend.campaigns.service import CampaignAdmin
from backend.campaigns.telling import tell_audiences
from db.tables import CampaignTelling, MemberEvent
from tests import servers as test_servers
from tests.backend.campaigns.audiences import (
    BATCH,
    account_held,
    gold_and_green,
    start_gold_campaign,
    telling_of,
    told,
    waiting_for_a_lock,
)
from tests.conftest import LiveServer

AVAILABLE = [(1, "offer.available")]


async def test_an_audience_of_several_batches_is_told_once_each(
    servers: test_servers.RunServers, live_server: LiveServer, publisher: Any
) -> None:
    gold = await gold_and_green(servers, 9)  # 5 gold in 5 windows of 2 members
    campaign = await start_gold_campaign(publisher, live_server.app.state.catalogue)
    first = await telling_of(campaign)
    # The start told the first window (the first gold member) at once; the rest waits.
    assert (first["told"], first["finished_at"]) == (1, None)
    assert (await told(gold))[gold[0]] == AVAILABLE

    assert await tell_audiences(publisher, batch=BATCH, batches=1) == 1
    assert (await telling_of(campaign))["told"] == 2
    assert await tell_audiences(publisher, batch=BATCH) == 3
    done = await telling_of(campaign)
    assert done["told"] == 5 and done["finished_at"] is not None
    everyone = await told(gold)
    assert everyone == {member: AVAILABLE for member in gold}
    # Nothing is left to tell, and nobody outside the audience heard anything.
    assert await tell_audiences(publisher, batch=BATCH) == 0
    assert await told(gold) == everyone
    assert await MemberEvent.count() == 5
    # Every batch went out to Redis: each member's newest published seq is their event's.
    published = await publisher.published_seqs([str(member) for member in gold])
    assert published == {str(member): 1 for member in gold}


async def test_a_batch_cut_short_is_told_again_and_nobody_twice(
    servers: test_servers.RunServers, live_server: LiveServer, publisher: Any
) -> None:
    gold = await gold_and_green(servers, 9)
    campaign = await start_gold_campaign(publisher, live_server.app.state.catalogue)
    reached = (await telling_of(campaign))["reached"]
    # The second window's gold member is in a sale: the batch waits on their account, and
    # the run is cancelled there (a scheduler stopped, or its lease lost).
    async with account_held(servers, gold[1]):
        run = asyncio.create_task(tell_audiences(publisher, batch=BATCH))
        await waiting_for_a_lock(servers)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    # Neither the batch's events nor its progress were kept.
    cut = await telling_of(campaign)
    assert (cut["told"], cut["reached"], cut["finished_at"]) == (1, reached, None)
    assert (await told(gold))[gold[1]] == []

    assert await tell_audiences(publisher, batch=BATCH) == 4
    assert await told(gold) == {member: AVAILABLE for member in gold}
    assert (await telling_of(campaign))["told"] == 5


async def test_an_end_is_told_after_the_start_it_follows(
    servers: test_servers.RunServers, live_server: LiveServer, publisher: Any
) -> None:
    gold = await gold_and_green(servers, 9)
    catalogue = live_server.app.state.catalogue
    campaign = await start_gold_campaign(publisher, catalogue)
    # Paused while its start is still being told: the pause's own batch goes on with the
    # start (its whole rest, in one window of the default size), not with the end, so no
    # member hears of the end before the start.
    admin = CampaignAdmin(catalogue=catalogue, publisher=publisher)
    await admin.move(campaign, "paused")
    assert await told(gold) == {member: AVAILABLE for member in gold}
    assert await tell_audiences(publisher, batch=BATCH) == 5
    assert await told(gold) == {
        member: [(1, "offer.available"), (2, "offer.expired")] for member in gold
    }
    tellings = await CampaignTelling.select(CampaignTelling.type, CampaignTelling.told).order_by(
        CampaignTelling.id
    )
    assert tellings == [
        {"type": "offer.available", "told": 5},
        {"type": "offer.expired", "told": 5},
    ]


async def test_two_runs_at_once_tell_each_member_once(
    servers: test_servers.RunServers, live_server: LiveServer, publisher: Any
) -> None:
    """A scheduler's run beside ``astrocoffee maintenance`` (the jobs are safe together):
    they take batches in turn, never the same one."""
    gold = await gold_and_green(servers, 9)
    await start_gold_campaign(publisher, live_server.app.state.catalogue)
    results = await asyncio.gather(
        tell_audiences(publisher, batch=BATCH), tell_audiences(publisher, batch=BATCH)
    )
    assert sum(results) == 4
    assert await told(gold) == {member: AVAILABLE for member in gold}


async def test_a_first_batch_that_fails_leaves_the_change_done_for_the_scheduler(
    servers: test_servers.RunServers, live_server: LiveServer, publisher: Any
) -> None:
    """The first gold member's next seq is already taken (an event stored without its seq
    moved): the start's own batch fails on the unique seq, the start stands, and once the
    seq is right the scheduler's job tells everyone."""
    import asyncpg

    gold = await gold_and_green(servers, 9)
    connection = await asyncpg.connect(servers.database_url)
    try:
        await connection.execute(
            "INSERT INTO member_event (id, member, seq, type, data, created_at)"
            " VALUES (gen_random_uuid(), $1, 1, 'stray', '{}', now())",
            gold[0],
        )
        campaign = await start_gold_campaign(publisher, live_server.app.state.catalogue)
        assert (await telling_of(campaign))["told"] == 0
        await connection.execute("UPDATE account SET last_event_seq = 1 WHERE member = $1", gold[0])
    finally:
        await connection.close()
    assert await tell_audiences(publisher, batch=BATCH) == 5
    found = await told(gold)
    assert found[gold[0]] == [(1, "stray"), (2, "offer.available")]
    assert all(found[member] == AVAILABLE for member in gold[1:])
