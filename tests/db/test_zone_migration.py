"""The migration that gave stores and members their zones keeps existing rows meaningful:
stores made before get the program's zone and a midnight day start; a member gets the zone of
the store of their first sale, or none (the program's) when they never bought."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.db.scratch import declared_schema
from tests.servers import RunServers

zones = importlib.import_module("db.migrations.db_2026_12_07t00_00_00_000000")


@pytest.fixture
async def before_zones(servers: RunServers) -> AsyncIterator[asyncpg.Connection]:
    """A database as it was before the migration: the tables without the zone columns."""
    async with declared_schema(
        servers,
        "zones",
        then=(
            "ALTER TABLE store DROP COLUMN time_zone",
            "ALTER TABLE store DROP COLUMN day_starts_at",
            "ALTER TABLE member DROP COLUMN time_zone",
        ),
    ) as connection:
        yield connection


async def test_existing_stores_and_members_get_their_zones(
    before_zones: asyncpg.Connection,
) -> None:
    db = before_zones
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    moscow, tverskaya = uuid.uuid4(), uuid.uuid4()
    await db.execute(
        "INSERT INTO store (id, code, name, currency, last_event_seq, created_at) "
        "VALUES ($1, 'MSK-1', 'Arbat', 'RUB', 0, $3), ($2, 'MSK-2', 'Tverskaya', 'RUB', 0, $3)",
        moscow,
        tverskaya,
        now,
    )
    buyer, window_shopper = uuid.uuid4(), uuid.uuid4()
    await db.execute(
        "INSERT INTO member (id, phone, card_number, tier, created_at) "
        "VALUES ($1, '+79990000001', '1000000000000001', 'green', $3), "
        "($2, '+79990000002', '1000000000000002', 'green', $3)",
        buyer,
        window_shopper,
        now,
    )
    for statement in zones.FORWARDS_SQL:
        await db.execute(statement)
    stores = await db.fetch("SELECT time_zone, day_starts_at FROM store ORDER BY code")
    assert [tuple(r) for r in stores] == [("Europe/Moscow", 0), ("Europe/Moscow", 0)]

    # A store moved to the Far East later, and a purchase there: members made after the
    # migration get their zone from the sale itself; here the fill reads the first purchase.
    await db.execute("UPDATE store SET time_zone = 'Asia/Vladivostok' WHERE id = $1", tverskaya)
    await db.execute("UPDATE member SET time_zone = NULL")
    for store, at in ((tverskaya, now), (moscow, now + timedelta(days=1))):
        await db.execute(
            "INSERT INTO purchase (id, store, member, external_id, amount, paid_amount, currency,"
            " points_earned, points_redeemed, request_hash, result, rules_version,"
            " refunded_amount, points_reversed, points_returned, created_at)"
            " VALUES ($1, $2, $3, $4, 100, 100, 'RUB', 1, 0, 'h', '{}'::jsonb, 1, 0, 0, 0, $5)",
            uuid.uuid4(),
            store,
            buyer,
            f"r-{uuid.uuid4().hex[:6]}",
            at,
        )
    for statement in zones.FORWARDS_SQL:  # runs again over filled columns without harm
        await db.execute(statement)
    members = await db.fetch("SELECT id, time_zone FROM member")
    assert {r["id"]: r["time_zone"] for r in members} == {
        buyer: "Asia/Vladivostok",
        window_shopper: None,
    }
