"""The migration that counts campaign total limits in shares
(db/migrations/db_2026_12_07t13_10_00_000000.py) keeps every campaign's uses: backwards, the
sum of the shares goes back into ``campaign.uses``; forwards, each campaign with a limit (or
with uses) gets its 16 shares, the uses so far in share 0 and what the limit leaves spread
over them, and the column goes."""

from __future__ import annotations

import importlib
import uuid

import asyncpg
import httpx

from backend.campaigns.total_limit import take_one
from db.pool import engine
from tests import servers as test_servers
from tests.backend.campaigns.helpers import launch
from tests.factories import SignedInStaff

migration = importlib.import_module("db.migrations.db_2026_12_07t13_10_00_000000")
BONUS = {"type": "bonus", "points": 5, "min_amount": 100}


async def _take(campaign_id: str) -> bool:
    async with engine().transaction():
        return await take_one(uuid.UUID(campaign_id), uuid.uuid4())


async def test_uses_move_into_shares_and_back_without_loss(
    client: httpx.AsyncClient, admin: SignedInStaff, servers: test_servers.RunServers
) -> None:
    limited = await launch(client, admin, name="Limited", rule=BONUS, total_limit=25)
    unlimited = await launch(client, admin, name="Unlimited", rule=BONUS)
    for _ in range(3):
        assert await _take(limited["id"])

    connection = await asyncpg.connect(servers.database_url)
    try:
        for statement in migration.BACKWARDS_SQL:
            await connection.execute(statement)
        uses = {
            str(r["id"]): r["uses"] for r in await connection.fetch("SELECT id, uses FROM campaign")
        }
        assert uses == {limited["id"]: 3, unlimited["id"]: 0}
        # Counted the old way meanwhile, and a campaign whose limit was taken off with uses.
        await connection.execute(
            "UPDATE campaign SET uses = 7 WHERE id = $1", uuid.UUID(limited["id"])
        )
        lifted = await connection.fetchval(
            "INSERT INTO campaign (id, name, description, kind, rule, targeting, status,"
            " priority, exclusive, requires_activation, uses, created_at, updated_at)"
            " SELECT $1, 'Lifted', '', kind, rule, targeting, 'draft', 0, false, false, 2,"
            " created_at, updated_at FROM campaign WHERE id = $2 RETURNING id",
            uuid.uuid4(),
            uuid.UUID(unlimited["id"]),
        )
        for statement in migration.FORWARDS_SQL:
            await connection.execute(statement)
        shares = await connection.fetch(
            "SELECT campaign, share, taken, quota FROM campaign_limit_share"
            " ORDER BY campaign, share"
        )
        column = await connection.fetchval(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'campaign' AND column_name = 'uses'"
        )
    finally:
        await connection.close()

    assert column == 0
    of_limited = [
        (r["share"], r["taken"], r["quota"]) for r in shares if str(r["campaign"]) == limited["id"]
    ]
    # 18 left over 16 shares: two more for the first two.
    assert of_limited == [(0, 7, 9), (1, 0, 2)] + [(s, 0, 1) for s in range(2, 16)]
    of_lifted = [(r["share"], r["taken"], r["quota"]) for r in shares if r["campaign"] == lifted]
    assert of_lifted == [(0, 2, 2)] + [(s, 0, 0) for s in range(1, 16)]
    assert not [r for r in shares if str(r["campaign"]) == unlimited["id"]]

    shown = await client.get(f"/v1/admin/campaigns/{limited['id']}", headers=admin.headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["uses"] == 7
    taken = [await _take(limited["id"]) for _ in range(19)]
    assert taken == [True] * 18 + [False]
