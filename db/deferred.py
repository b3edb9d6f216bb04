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
        items, renamed, queries = _items(tuple([template for template, _ in statements]))
        values: list[Any] = []
        for (_, own), query in zip(statements, queries, strict=True):
            if own.keys() != query.name_set:
                query.arguments(own)  # raises, naming the missing and unknown parameters
            values += map(own.__getitem__, query.names)
        return items, dict(zip(renamed, values, strict=True))


@lru_cache(maxsize=256)
def _items(templates: tuple[str, ...]) -> tuple[str, tuple[str, ...], tuple[sql.Compiled, ...]]:
    """The WITH items for ``templates`` (the ``i``-th named ``deferred_<i>``), the names of
    their parameters as renamed there, in order, and each template's own compiled form
    (whose names, in the same order, are the caller's). Keyed by the whole list, so a
    transaction's writes cost one lookup, and their values are bound without renaming."""
    items: list[str] = []
    renamed: list[str] = []
    for i, template in enumerate(templates):
        name = f"deferred_{i}"
        items.append(f"{name} AS ({sql.namespaced(template, name + '_')}), ")
        renamed += (f"{name}_{key}" for key in sql.compiled(template).names)
    return "".join(items), tuple(renamed), tuple(sql.compiled(t) for t in templates)


async def write(template: str, into: DeferredWrites | None, /, **params: Any) -> None:
    """Run the write now, or, with ``into``, add it to the writes sent with the transaction's
    last statement."""
    if into is None:
        await sql.fetch(template, **params)
    else:
        into.add(template, **params)
