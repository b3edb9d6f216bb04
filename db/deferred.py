"""Writes a transaction must make but whose results it never reads, sent with its last one.

A sale inserts its purchase, point lot, accounting document, visit and idempotency record;
none of them returns anything the sale needs. Sent one by one they were a round trip each,
and on this stack a round trip costs more CPU than the statement. Collected here, they run
as data-modifying CTEs of the statement that posts the ledger entries: PostgreSQL executes
every one exactly once, and checks foreign keys at the end of the statement, so their order
does not matter and a constraint violation still fails the whole transaction.

Each statement keeps its own parameter names: the ``i``-th is renamed ``deferred_<i>_<name>``
(``db.sql.namespaced``), so two statements that both say ``{id}`` cannot meet, and the
statement they join must not use names starting with ``deferred_`` (a clash raises
``TypeError`` when both sets are passed to ``db.sql.fetch``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from db import sql


class DeferredWrites:
    def __init__(self) -> None:
        self._statements: list[tuple[str, dict[str, Any]]] = []

    def add(self, template: str, /, **params: Any) -> None:
        """An INSERT/UPDATE with ``{name}`` placeholders (see ``db.sql``), no RETURNING."""
        self._statements.append((template, params))

    def extend(self, other: DeferredWrites) -> None:
        """Take over ``other``'s statements (``other`` is left empty)."""
        self._statements += other._statements
        other._statements = []

    def __bool__(self) -> bool:
        return bool(self._statements)

    def prefix(self) -> tuple[str, dict[str, Any]]:
        """``WITH`` items for the statements (each ending in a comma) and their parameters
        under their namespaced names; the caller's own statement continues the ``WITH`` list.
        Empties the collection."""
        statements, self._statements = self._statements, []
        items = []
        params: dict[str, Any] = {}
        for i, (template, own) in enumerate(statements):
            item, query, renamed = _item(template, i)
            items.append(item)
            params.update(zip(renamed, query.arguments(own), strict=True))
        return "".join(items), params


@lru_cache(maxsize=256)
def _item(template: str, i: int) -> tuple[str, sql.Compiled, tuple[str, ...]]:
    """The ``i``-th WITH item for ``template``, its own compiled form (whose ``arguments``
    check and order the caller's names) and its names as renamed in the item."""
    name = f"deferred_{i}"
    query = sql.compiled(template)
    renamed = tuple(f"{name}_{key}" for key in query.names)
    return f"{name} AS ({sql.namespaced(template, name + '_')}), ", query, renamed


async def write(template: str, into: DeferredWrites | None, /, **params: Any) -> None:
    """Run the write now, or, with ``into``, add it to the writes sent with the transaction's
    last statement."""
    if into is None:
        await sql.fetch(template, **params)
    else:
        into.add(template, **params)
