"""Hand-written SQL for the purchase path, run without Piccolo's query building.

Piccolo's ``Table.raw`` re-parses its template into fragments and renumbers the arguments
on every call; on the purchase path that was ~8 % of the request's CPU (profile in
loadtests/bench_purchases.py). Here a template in the same ``{}`` placeholder style is
turned into ``$1, $2, ...`` once and cached, and run on the connection of the caller's
Piccolo transaction (or, outside one, through Piccolo as before). Arguments are always
bound parameters, never formatted into the text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from string import Formatter
from typing import Any

import msgspec
from piccolo.querystring import QueryString

from db.pool import engine

Row = Mapping[str, Any]


@lru_cache(maxsize=1024)
def numbered(template: str) -> str:
    """``{}`` placeholders as ``$1, $2, ...`` (``{{`` and ``}}`` are literal braces)."""
    parts = []
    n = 0
    for literal, field, _, _ in Formatter().parse(template):
        parts.append(literal)
        if field is not None:
            if field:
                raise ValueError(f"only empty {{}} placeholders are allowed, not {{{field}}}")
            n += 1
            parts.append(f"${n}")
    return "".join(parts)


async def fetch(template: str, *args: Any) -> Sequence[Row]:
    """Rows of ``template`` with ``args`` bound, in the current transaction if there is one."""
    transaction = engine().current_transaction.get()
    if transaction is None:
        rows: list[dict[str, Any]] = await engine().run_querystring(QueryString(template, *args))
        return rows
    records: Sequence[Row] = await transaction.connection.fetch(numbered(template), *args)
    return records


def loaded_json(value: Any) -> Any:
    """A JSON/JSONB column's value as Python data: asyncpg (with no codec set) and Piccolo's raw
    queries hand it over as text, Piccolo's ``load_json`` outputs already decoded."""
    return msgspec.json.decode(value) if isinstance(value, str) else value
