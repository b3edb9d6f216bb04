"""Writes a transaction must make but whose results it never reads, sent with its last one.

A sale inserts its purchase, point lot, accounting document, visit and idempotency record;
none of them returns anything the sale needs. Sent one by one they were a round trip each,
and on this stack a round trip costs more CPU than the statement. Collected here, they run
as data-modifying CTEs of the statement that posts the ledger entries: PostgreSQL executes
every one exactly once, and checks foreign keys at the end of the statement, so their order
does not matter and a constraint violation still fails the whole transaction.
"""

from __future__ import annotations

from typing import Any

from piccolo.querystring import QueryString


class DeferredWrites:
    def __init__(self) -> None:
        self._statements: list[QueryString] = []

    def add(self, sql: str, *args: Any) -> None:
        """An INSERT/UPDATE in Piccolo's ``{}`` placeholder style (no RETURNING needed)."""
        self._statements.append(QueryString(sql, *args))

    def __bool__(self) -> bool:
        return bool(self._statements)

    def prefix(self) -> tuple[str, list[QueryString]]:
        """``WITH`` items for the statements (each ending in a comma) and their arguments;
        the caller's own statement continues the ``WITH`` list. Empties the collection."""
        statements, self._statements = self._statements, []
        return "".join(f"deferred_{i} AS ({{}}), " for i in range(len(statements))), statements
