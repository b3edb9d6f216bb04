"""The outbox only grows with sales: what reads it often must cost what is open, and what was
delivered long ago is purged in bounded batches."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from backend.accounting import outbox
from backend.accounting.outbox import purge_delivered
from db import sql
from db.pool import engine
from tests.conftest import LiveServer

TODAY = date(2027, 6, 1)

_FILL = """
INSERT INTO outbox_message (id, destination, kind, reference, business_date, payload, status,
                            attempts, next_attempt_at, created_at, delivered_at)
SELECT gen_random_uuid(), 'accounting', 'sale', 'r-' || n, {day}::date, '{{}}'::jsonb,
       {status}::varchar, 1, now(), now(), CASE WHEN {status}::varchar = 'delivered' THEN now() END
FROM generate_series(1, {count}) AS n
"""


async def fill(count: int, *, status: str, day: date) -> None:
    await sql.fetch(_FILL, count=count, status=status, day=day)


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in plan_nodes(child))]


async def test_the_figures_read_only_the_open_messages(live_server: LiveServer) -> None:
    await fill(20_000, status="delivered", day=TODAY)
    await fill(5, status="pending", day=TODAY)
    await fill(2, status="dead", day=TODAY)
    async with engine().transaction():
        await sql.fetch("ANALYZE outbox_message")
        explained = await sql.fetch("EXPLAIN (FORMAT JSON) " + outbox._FIGURES)
    plan = json.loads(explained[0]["QUERY PLAN"])[0]["Plan"]
    scans = {
        (node["Node Type"], node.get("Index Name"))
        for node in plan_nodes(plan)
        if node.get("Relation Name") == "outbox_message"
    }
    assert scans and all(index == "outbox_message_open" for _, index in scans), scans


async def test_delivered_messages_past_the_retention_are_purged_in_batches(
    live_server: LiveServer,
) -> None:
    old, recent = TODAY - timedelta(days=500), TODAY - timedelta(days=10)
    await fill(12, status="delivered", day=old)
    await fill(3, status="delivered", day=recent)
    await fill(2, status="pending", day=old)
    await fill(1, status="dead", day=old)

    assert await purge_delivered(before=TODAY - timedelta(days=400), batch=5) == 12
    left = await sql.fetch(
        "SELECT status, business_date, COUNT(*) AS n FROM outbox_message "
        "GROUP BY status, business_date ORDER BY status, business_date"
    )
    assert [(r["status"], r["business_date"], r["n"]) for r in left] == [
        ("dead", old, 1),
        ("delivered", recent, 3),
        ("pending", old, 2),
    ]
    assert await purge_delivered(before=TODAY - timedelta(days=400), batch=5) == 0
