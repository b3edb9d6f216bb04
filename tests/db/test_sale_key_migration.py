"""The migration that moves a till's idempotency key onto its purchase
(db/migrations/db_2026_12_07t03_00_00_000000.py) loses no key: backwards, every key becomes a
record again; forwards, the first key of each purchase moves back onto it, a second key (a
till that retried a receipt with a new key) stays a record, and both still replay."""

from __future__ import annotations

import importlib

import asyncpg
import httpx

from db.tables import IdempotencyRecord, Purchase
from tests import servers as test_servers
from tests.factories import LoggedInMember, Till, buy, purchase_body

migration = importlib.import_module("db.migrations.db_2026_12_07t03_00_00_000000")


async def _run(database_url: str, statements: tuple[str, ...]) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def test_keys_move_onto_purchases_and_back_without_loss(
    client: httpx.AsyncClient,
    till: Till,
    member: LoggedInMember,
    servers: test_servers.RunServers,
) -> None:
    body = purchase_body(member.card_number, external_id="receipt-1")
    first = await buy(client, till, body, key="first-key")
    retry = await buy(client, till, body, key="second-key")
    other = await buy(client, till, purchase_body(member.card_number), key="other-key")
    assert [r.status_code for r in (first, retry, other)] == [201, 201, 201]
    assert await IdempotencyRecord.count() == 1  # the retry's key

    await _run(servers.database_url, migration.BACKWARDS_SQL)
    connection = await asyncpg.connect(servers.database_url)
    try:
        keys = {r["key"] for r in await connection.fetch("SELECT key FROM idempotency_record")}
    finally:
        await connection.close()
    assert keys == {"first-key", "second-key", "other-key"}

    await _run(servers.database_url, migration.FORWARDS_SQL)
    carried = await Purchase.select(Purchase.external_id, Purchase.idempotency_key)
    assert {(r["external_id"], r["idempotency_key"]) for r in carried} == {
        ("receipt-1", "first-key"),
        (other.json()["external_id"], "other-key"),
    }
    records = await IdempotencyRecord.select(IdempotencyRecord.key)
    assert [r["key"] for r in records] == ["second-key"]
    for key, sold in (("first-key", first), ("second-key", first)):
        again = await buy(client, till, body, key=key)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == sold.json()
