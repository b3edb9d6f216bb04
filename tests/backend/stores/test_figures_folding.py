"""Store figures folded from committed sales after commit (backend.stores.folding): after
concurrent sales in two stores, folded by several folders at once, the figures and the store
streams equal a recount of the purchases; a sale of a transaction older than the mark is
counted when it commits, and the sales after it do not wait for it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx

from backend.stores.folding import fold_committed_sales
from db import sql
from db.tables import StoreDay, StoreEvent
from tests import servers as test_servers
from tests.conftest import LiveServer
from tests.factories import figures_folded, log_in, open_till, sell

_RECOUNT = """
SELECT store, COUNT(*) AS sales, SUM(paid_amount) AS sales_amount,
       SUM(points_earned) AS points_earned, SUM(points_redeemed) AS points_redeemed,
       COUNT(DISTINCT member) AS active_members
FROM purchase GROUP BY store
"""


async def _figures() -> dict[Any, tuple[int, ...]]:
    rows = await StoreDay.select()
    totals: dict[Any, tuple[int, ...]] = {}
    for row in rows:  # summed over days: a run across a store's midnight has two
        names = ("sales", "sales_amount", "points_earned", "points_redeemed", "active_members")
        moved = tuple(int(row[name]) for name in names)
        before = totals.get(row["store"], (0,) * len(moved))
        totals[row["store"]] = tuple(a + b for a, b in zip(before, moved, strict=True))
    return totals


async def test_figures_equal_a_recount_after_concurrent_sales(
    client: httpx.AsyncClient, live_server: LiveServer, publisher: Any
) -> None:
    tills = [await open_till(), await open_till()]
    members = [await log_in(client, live_server.sms) for _ in range(4)]
    sold = await asyncio.gather(
        *(sell(client, tills[i % 2], members[i % 4], 10000 + 700 * i) for i in range(24))
    )
    assert [r.status_code for r in sold] == [201] * 24
    # Folders racing the one beside the server: each sale is counted once.
    await asyncio.gather(*(fold_committed_sales(publisher) for _ in range(4)))
    await figures_folded()

    recount = {
        row["store"]: tuple(
            int(row[name])
            for name in (
                "sales",
                "sales_amount",
                "points_earned",
                "points_redeemed",
                "active_members",
            )
        )
        for row in await sql.fetch(_RECOUNT)
    }
    assert await _figures() == recount
    assert {store: figures[0] for store, figures in recount.items()} == {
        t.store_id: 12 for t in tills
    }
    for till in tills:
        events = (
            await StoreEvent.select(StoreEvent.type, StoreEvent.seq, StoreEvent.data)
            .where(StoreEvent.store == till.store_id)
            .order_by(StoreEvent.seq)
            .output(load_json=True)
        )
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        completed = [e["data"]["purchase_id"] for e in events if e["type"] == "sale.completed"]
        assert sorted(completed) == sorted(
            r.json()["purchase_id"] for i, r in enumerate(sold) if i % 2 == tills.index(till)
        )
        assert events[-1]["type"] == "stats.updated"
        assert events[-1]["data"]["sales"] == 12


async def test_a_sale_of_an_older_transaction_is_counted_when_it_commits(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    servers: test_servers.RunServers,
) -> None:
    till = await open_till()
    member = await log_in(client, live_server.sms)
    older = await asyncpg.connect(servers.database_url)
    try:
        transaction = older.transaction()
        await transaction.start()
        # A sale written by a transaction older than the next one, still open: the mark
        # passes it, and it stays waiting.
        await older.execute(
            "INSERT INTO purchase (id, store, member, external_id, amount, paid_amount,"
            " currency, points_earned, points_redeemed, request_hash, result, rules_version,"
            " refunded_amount, points_reversed, points_returned, created_at)"
            " VALUES (gen_random_uuid(), $1, $2, 'older', 30000, 30000, 'RUB', 15, 0, 'h',"
            " '{}'::jsonb, 1, 0, 0, 0, now())",
            till.store_id,
            uuid.UUID(member.member_id),
        )
        assert (await sell(client, till, member, 20000)).status_code == 201
        await figures_folded()  # the newer sale does not wait for the older transaction
        assert await _figures() == {till.store_id: (1, 20000, 10, 0, 1)}
        await transaction.commit()
    finally:
        await older.close()
    await figures_folded()
    assert await _figures() == {till.store_id: (2, 50000, 25, 0, 1)}
