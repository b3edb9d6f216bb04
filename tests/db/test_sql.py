from __future__ import annotations

import pytest

from db import sql
from db.deferred import DeferredWrites
from db.pool import close_pool, engine, start_pool
from db.tables import Store


def test_placeholders_are_numbered_in_order_and_literal_braces_kept() -> None:
    assert sql.numbered("SELECT {}, '{{}}'::jsonb, {} WHERE x = {}") == (
        "SELECT $1, '{}'::jsonb, $2 WHERE x = $3"
    )
    with pytest.raises(ValueError, match="placeholders"):
        sql.numbered("SELECT {name}")


def test_deferred_writes_continue_a_with_list_with_their_arguments_in_order() -> None:
    writes = DeferredWrites()
    assert not writes
    writes.add("INSERT INTO a VALUES ({}, {})", 1, 2)
    writes.add("UPDATE b SET c = {}", 3)
    template, args = writes.prefix()
    assert template == (
        "deferred_0 AS (INSERT INTO a VALUES ({}, {})), deferred_1 AS (UPDATE b SET c = {}), "
    )
    assert args == [1, 2, 3]
    assert not writes  # handed over once


async def test_rows_in_a_transaction_and_outside_one() -> None:
    await start_pool()
    try:
        rows = await sql.fetch("SELECT {}::int + {}::int AS sum", 40, 2)
        assert rows[0]["sum"] == 42
        async with engine().transaction():
            await sql.fetch("CREATE TEMPORARY TABLE sql_probe (n int) ON COMMIT DROP")
            await sql.fetch("INSERT INTO sql_probe VALUES ({}), ({})", 1, 2)
            # The same connection as Piccolo's own queries in this transaction (a temporary
            # table is seen by its own session only).
            assert (await Store.raw("SELECT sum(n) AS s FROM sql_probe"))[0]["s"] == 3
    finally:
        await close_pool()
