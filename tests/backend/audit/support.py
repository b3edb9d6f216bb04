"""Reading the audit trail straight from the table, for tests."""

from __future__ import annotations

from typing import Any

from db import sql


async def entries(action: str | None = None) -> list[dict[str, Any]]:
    """Entries (of ``action``, if given), oldest first, with JSON decoded."""
    rows = await sql.fetch(
        "SELECT * FROM audit_entry WHERE {action}::text IS NULL OR action = {action}::text"
        " ORDER BY id",
        action=action,
    )
    return [
        {
            **dict(row),
            "before": sql.loaded_json(row["before"]),
            "after": sql.loaded_json(row["after"]),
        }
        for row in rows
    ]


async def only(action: str, *, staff_id: str | None = None) -> dict[str, Any]:
    """The one entry of ``action`` (by ``staff_id``, if given; fails if there are none or
    several)."""
    found = [
        entry
        for entry in await entries(action)
        if staff_id is None or str(entry["staff_id"]) == staff_id
    ]
    assert len(found) == 1, found
    return found[0]
