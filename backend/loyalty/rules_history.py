"""The program rules' change history: every published version, who published it and when,
newest first (the console's rules page shows what changed from one to the next)."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from backend.loyalty.rules import DEFAULT_RULES, ProgramRules
from db import sql

# A few versions a year: one page holds years of them.
HISTORY_MAX = 200

_HISTORY = """
SELECT r.version, r.rules, r.created_at, r.created_by, s.name AS created_by_name
FROM program_rules r LEFT JOIN staff_user s ON s.id = r.created_by
ORDER BY r.version DESC
LIMIT {limit}
"""


class RulesChange(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    rules: ProgramRules
    # None for version 0, the defaults in force before anyone published rules.
    created_at: datetime | None
    created_by: uuid.UUID | None
    created_by_name: str | None


class RulesHistory(msgspec.Struct, frozen=True):
    items: list[RulesChange]


async def rules_history(*, limit: int) -> RulesHistory:
    # A page of history tolerates a moment of replica lag.
    rows = await sql.fetch_lagging(_HISTORY, limit=limit)
    items = [
        RulesChange(
            version=row["version"],
            rules=msgspec.convert(sql.loaded_json(row["rules"]), ProgramRules),
            created_at=row["created_at"],
            created_by=row["created_by"],
            created_by_name=row["created_by_name"],
        )
        for row in rows
    ]
    if len(items) < limit:
        # The first version people changed was the defaults: shown so its changes read too.
        items.append(
            RulesChange(
                version=0,
                rules=DEFAULT_RULES,
                created_at=None,
                created_by=None,
                created_by_name=None,
            )
        )
    return RulesHistory(items=items)
