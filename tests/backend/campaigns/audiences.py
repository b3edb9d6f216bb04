"""A chain of members in bulk and a campaign for its gold members, to tell in small batches;
what each member was told, read back from their streams."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from backend.campaigns.catalogue import Catalogue
from backend.campaigns.schemas import CampaignIn
from backend.campaigns.service import CampaignAdmin, start_and_end_on_time
from db import sql
from db.tables import CampaignTelling
from devkit.seed import insert_members
from realtime.publisher import EventPublisher
from tests import servers as test_servers

START = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
BATCH = 2


async def gold_and_green(servers: test_servers.RunServers, count: int) -> list[uuid.UUID]:
    """``count`` members (accounts at seq 0), every other one gold by member id; the gold
    ones' ids, in member order."""
    connection = await asyncpg.connect(servers.database_url)
    try:
        members = await insert_members(connection, count, run=77)
        ids = sorted(uuid.UUID(m.member_id) for m in members)
        gold = ids[::2]
        await connection.execute("UPDATE member SET tier = 'gold' WHERE id = ANY($1)", gold)
    finally:
        await connection.close()
    return gold


async def start_gold_campaign(publisher: EventPublisher, catalogue: Catalogue) -> uuid.UUID:
    """A campaign for gold members, scheduled and started by the scheduler's job at
    ``START``, whose first batch of ``BATCH`` members that start tells at once."""
    admin = CampaignAdmin(catalogue=catalogue, publisher=publisher)
    created = await admin.create(
        msgspec.convert(
            {
                "name": "Gold mornings",
                "rule": {"type": "bonus", "points": 10, "min_amount": 100},
                "targeting": {"tiers": ["gold"]},
                "starts_at": START.isoformat(),
                "ends_at": (START + timedelta(days=7)).isoformat(),
            },
            CampaignIn,
        )
    )
    await admin.move(created.id, "scheduled")
    assert await start_and_end_on_time(publisher, catalogue, now=START, batch=BATCH) == 1
    return created.id


async def told(member_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[tuple[int, str]]]:
    """Each member's offer events, as (seq, type), oldest first."""
    rows = await sql.fetch(
        "SELECT member, seq, type FROM member_event WHERE member = ANY({ids}) ORDER BY seq",
        ids=member_ids,
    )
    found: dict[uuid.UUID, list[tuple[int, str]]] = {m: [] for m in member_ids}
    for row in rows:
        found[row["member"]].append((row["seq"], row["type"]))
    return found


async def telling_of(campaign_id: uuid.UUID) -> dict[str, Any]:
    row = await CampaignTelling.select().where(CampaignTelling.campaign == campaign_id).first()
    assert row is not None
    return row


@asynccontextmanager
async def account_held(
    servers: test_servers.RunServers, member_id: uuid.UUID
) -> AsyncIterator[None]:
    """The member's account row locked by another transaction (a sale in progress) until
    the block ends: a batch that reaches it waits there."""
    connection = await asyncpg.connect(servers.database_url)
    try:
        async with connection.transaction():
            await connection.execute(
                "SELECT 1 FROM account WHERE member = $1 FOR UPDATE", member_id
            )
            yield
    finally:
        await connection.close()


async def waiting_for_a_lock(servers: test_servers.RunServers) -> None:
    """Until some statement of this database waits for a row lock (a batch at the held
    account)."""
    connection = await asyncpg.connect(servers.database_url)
    try:
        for _ in range(500):
            waiting = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
            if waiting:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("no statement waited for the held account")
    finally:
        await connection.close()
