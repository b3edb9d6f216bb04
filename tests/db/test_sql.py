from __future__ import annotations

import ast

import pytest

from db import sql
from db.deferred import DeferredWrites
from db.pool import close_pool, engine, start_pool
from db.tables import Store
from tests.servers import ROOT


def test_placeholders_are_numbered_in_order_and_literal_braces_kept() -> None:
    query = sql.compiled("SELECT {a}, '{{}}'::jsonb, {b} WHERE x = {c}")
    assert query.numbered == "SELECT $1, '{}'::jsonb, $2 WHERE x = $3"
    with pytest.raises(ValueError, match="placeholders"):
        sql.compiled("SELECT {}")
    with pytest.raises(ValueError, match="placeholders"):
        sql.compiled("SELECT {a!r}")


def test_a_repeated_name_is_one_parameter() -> None:
    query = sql.compiled("SELECT {store_id}, {day} WHERE s = {store_id} AND d = {day} OR {n}")
    assert query.numbered == "SELECT $1, $2 WHERE s = $1 AND d = $2 OR $3"
    assert query.arguments({"n": 3, "day": "d", "store_id": "s"}) == ["s", "d", 3]


def test_missing_or_unknown_names_raise_before_anything_is_sent() -> None:
    query = sql.compiled("SELECT {a}, {b}")
    with pytest.raises(TypeError, match=r"missing: \['b'\]"):
        query.arguments({"a": 1})
    with pytest.raises(TypeError, match=r"not in the template: \['c'\]"):
        query.arguments({"a": 1, "b": 2, "c": 3})


async def test_fetch_refuses_missing_and_unknown_names_in_and_outside_a_transaction() -> None:
    await start_pool()
    try:
        with pytest.raises(TypeError, match="missing"):
            await sql.fetch("SELECT {a}::int AS a")
        async with engine().transaction():
            with pytest.raises(TypeError, match="not in the template"):
                await sql.fetch("SELECT {a}::int AS a", a=1, b=2)
    finally:
        await close_pool()


def test_deferred_writes_continue_a_with_list_with_their_names_kept_apart() -> None:
    writes = DeferredWrites()
    assert not writes
    writes.add("INSERT INTO a VALUES ({id}, {n}, '{{}}')", id=1, n=2)
    writes.add("UPDATE b SET c = {id}", id=3)
    template, params = writes.prefix()
    assert template == (
        "deferred_0 AS (INSERT INTO a VALUES ({deferred_0_id}, {deferred_0_n}, '{{}}')), "
        "deferred_1 AS (UPDATE b SET c = {deferred_1_id}), "
    )
    assert params == {"deferred_0_id": 1, "deferred_0_n": 2, "deferred_1_id": 3}
    assert not writes  # handed over once
    assert sql.compiled(template + "x AS (SELECT {id})").names == (
        "deferred_0_id",
        "deferred_0_n",
        "deferred_1_id",
        "id",
    )


async def test_rows_in_a_transaction_and_outside_one() -> None:
    await start_pool()
    try:
        rows = await sql.fetch("SELECT {a}::int + {b}::int + {a}::int AS sum", a=20, b=2)
        assert rows[0]["sum"] == 42
        # Literal braces and a repeated name outside a transaction (Piccolo's QueryString,
        # which split at every {}, once turned '{}' into two placeholders here).
        rows = await sql.fetch("SELECT '{{}}'::jsonb AS empty, {a}::int + {a}::int AS n", a=2)
        assert (rows[0]["empty"], rows[0]["n"]) == ("{}", 4)
        async with engine().transaction():
            await sql.fetch("CREATE TEMPORARY TABLE sql_probe (n int) ON COMMIT DROP")
            await sql.fetch("INSERT INTO sql_probe VALUES ({one}), ({two})", one=1, two=2)
            assert (await sql.fetch("SELECT {a}::int * {a}::int AS sq", a=3))[0]["sq"] == 9
            # The same connection as Piccolo's own queries in this transaction (a temporary
            # table is seen by its own session only).
            assert (await Store.raw("SELECT sum(n) AS s FROM sql_probe"))[0]["s"] == 3
        assert (await sql.fetch_lagging("SELECT {a}::int AS a", a=7))[0]["a"] == 7
    finally:
        await close_pool()


async def test_plans_made_for_each_run_last_for_their_transaction_only() -> None:
    mode = "SELECT current_setting('plan_cache_mode') AS mode"
    await start_pool()
    try:
        with pytest.raises(AssertionError, match="transaction"):
            await sql.plan_each_run()
        async with engine().transaction():
            assert (await sql.fetch(mode))[0]["mode"] == "auto"
            await sql.plan_each_run()
            assert (await sql.fetch(mode))[0]["mode"] == "force_custom_plan"
        # SET LOCAL: the connection goes back to the pool as it came.
        for _ in range(3):
            async with engine().transaction():
                assert (await sql.fetch(mode))[0]["mode"] == "auto"
    finally:
        await close_pool()


def test_no_code_uses_piccolos_raw() -> None:
    """docs/architecture.md's rule: hand-written SQL goes through db.sql, never Table.raw."""
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for folder in ("backend", "realtime", "db")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "migrations" not in path.parts
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "raw"
    ]
    assert found == [], "use db.sql.fetch with named parameters instead of Table.raw"
