"""Reading a hot statement's plan: ``EXPLAIN`` it against a sample (``devkit.hot_statements``),
list its scans, and say what is wrong with them (a sequential scan of a table that grows
with the members, or none of the indexes the statement is written for)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devkit.hot_statements import GROWING, HotStatement, Sample


@dataclass(frozen=True, slots=True)
class Scan:
    node: str
    relation: str | None
    index: str | None
    conditioned: bool  # an Index Cond (or a bitmap's): not a walk of the whole index


def scans(plan: dict[str, Any]) -> list[Scan]:
    """Every scan node of a JSON plan (``EXPLAIN (FORMAT JSON)``'s ``Plan``)."""
    found = []
    if "Scan" in plan["Node Type"]:
        found.append(
            Scan(
                plan["Node Type"],
                plan.get("Relation Name"),
                plan.get("Index Name"),
                "Index Cond" in plan or "Recheck Cond" in plan,
            )
        )
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


def problems(statement: HotStatement, plan: dict[str, Any]) -> list[str]:
    """What is wrong with ``plan`` for ``statement`` (empty: nothing)."""
    found = scans(plan)
    wrong = [
        f"{statement.name}: {scan.node} on {scan.relation}"
        for scan in found
        if scan.relation in GROWING and scan.node == "Seq Scan"
    ]
    if not any(scan.index in statement.indexes for scan in found):
        used = sorted({scan.index for scan in found if scan.index})
        wrong.append(f"{statement.name}: none of {sorted(statement.indexes)} used ({used})")
    return wrong


async def explain(
    connection: Any, statement: HotStatement, at: Sample, *, analyze: bool = False
) -> dict[str, Any]:
    """The JSON plan of ``statement`` on ``connection`` (analyzed: run, then rolled back)."""
    options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
    text, args = _statement(statement, at)
    transaction = connection.transaction()
    await transaction.start()
    try:
        raw = await connection.fetchval(f"EXPLAIN ({options}) {text}", *args)
    finally:
        await transaction.rollback()
    return _plan(raw)


async def explain_generic(connection: Any, statement: HotStatement, at: Sample) -> dict[str, Any]:
    """The JSON plan PostgreSQL keeps for ``statement`` as asyncpg runs it: a prepared
    statement, planned for its parameters' values five times and then, where that looks no
    dearer, once for any values (the generic plan), which ``EXPLAIN`` of the statement with
    its values never shows. PostgreSQL 15 has no ``EXPLAIN (GENERIC_PLAN)``: the statement is
    prepared and executed under ``force_generic_plan``, with NULLs (a generic plan does not
    depend on the values)."""
    text, args = _statement(statement, at)
    nulls = ", ".join("NULL" for _ in args)
    prepared = False
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await connection.execute(f"PREPARE hot_generic AS {text}")
        prepared = True
        raw = await connection.fetchval(
            f"EXPLAIN (FORMAT JSON) EXECUTE hot_generic{f'({nulls})' if args else ''}"
        )
    finally:
        await transaction.rollback()
        # A prepared statement outlives the rollback; deallocated after it, so that a failed
        # EXPLAIN is reported as itself, not as a DEALLOCATE in an aborted transaction.
        if prepared:
            await connection.execute("DEALLOCATE hot_generic")
    return _plan(raw)


def _statement(statement: HotStatement, at: Sample) -> tuple[str, list[Any]]:
    from db.sql import compiled

    if statement.template is not None:
        assert statement.params is not None
        template = compiled(statement.template)
        return template.numbered, template.arguments(statement.params(at))
    assert statement.rendered is not None
    return statement.rendered(at), []


def _plan(raw: Any) -> dict[str, Any]:
    import json

    result: dict[str, Any] = (json.loads(raw) if isinstance(raw, str) else raw)[0]
    return result
