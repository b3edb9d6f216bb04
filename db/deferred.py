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


class DeferredWrites:
    def __init__(self) -> None:
        self._statements: list[tuple[str, tuple[Any, ...]]] = []

    def add(self, sql: str, *args: Any) -> None:
        """An INSERT/UPDATE with ``{}`` placeholders (see ``db.sql``), no RETURNING needed."""
        self._statements.append((sql, args))

    def __bool__(self) -> bool:
        return bool(self._statements)

    def prefix(self) -> tuple[str, list[Any]]:
        """``WITH`` items for the statements (each ending in a comma) and their arguments in
        order; the caller's own statement continues the ``WITH`` list. Empties the
        collection."""
        statements, self._statements = self._statements, []
        template = "".join(f"deferred_{i} AS ({sql}), " for i, (sql, _) in enumerate(statements))
        return template, [arg for _, args in statements for arg in args]
