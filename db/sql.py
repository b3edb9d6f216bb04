"""Hand-written SQL with named parameters, run without Piccolo's query building.

The one rule for SQL (docs/architecture.md): Piccolo's query builder for plain reads and
writes of tables; this module for every statement written by hand; ``Table.raw`` nowhere.

A template names its values: ``WHERE store = {store_id} AND day = {day}``, and a call binds
them by keyword: ``fetch(TEMPLATE, store_id=..., day=...)``. A name used twice is one
parameter; a name missing from the call, or given but not in the template, raises before
anything is sent. ``{{`` and ``}}`` are literal braces. Arguments are always bound
parameters, never formatted into the text.

Each template is compiled once (cached) to ``$1, $2, ...``, and run on the connection of
the caller's Piccolo transaction, or outside one on a connection of Piccolo's pool. Piccolo's
``Table.raw`` re-parsed its template and renumbered the arguments on every call, ~8 % of a
purchase's CPU (profile in loadtests/bench_purchases.py); its ``QueryString`` also splits
at every ``{}``, so a literal ``'{}'::jsonb`` could not be written through it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from string import Formatter
from typing import Any

import msgspec
from piccolo.engine.postgres import PostgresEngine

from db.pool import engine
from db.replica import read_lagging

Row = Mapping[str, Any]

# The pooled connection ``one_connection`` holds for the task, if any.
_held: ContextVar[Any] = ContextVar("held_connection", default=None)


def _escaped(literal: str) -> str:
    return literal.replace("{", "{{").replace("}", "}}")


def _parsed(template: str) -> list[tuple[str, str | None]]:
    """(literal text, parameter name or None) pieces; refuses ``{}`` and format specs."""
    pieces: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in Formatter().parse(template):
        if name is not None and (not name.isidentifier() or spec or conversion):
            raise ValueError(f"SQL placeholders are {{name}}, not {{{name or ''}}}")
        pieces.append((literal, name))
    return pieces


@dataclass(frozen=True, slots=True)
class Compiled:
    numbered: str  # ``$n`` placeholders, one number per name
    names: tuple[str, ...]  # the name of $1, $2, ...
    name_set: frozenset[str]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The values of ``$1, $2, ...`` from ``params``; unknown or missing names raise."""
        if params.keys() != self.name_set:
            missing = sorted(self.name_set - set(params))
            unknown = sorted(set(params) - self.name_set)
            raise TypeError(f"SQL parameters missing: {missing}; not in the template: {unknown}")
        return [params[name] for name in self.names]


@lru_cache(maxsize=1024)
def compiled(template: str) -> Compiled:
    numbered: list[str] = []
    names: dict[str, int] = {}
    for literal, name in _parsed(template):
        numbered.append(literal)
        if name is not None:
            number = names.setdefault(name, len(names) + 1)
            numbered.append(f"${number}")
    return Compiled("".join(numbered), tuple(names), frozenset(names))


@lru_cache(maxsize=1024)
def namespaced(template: str, prefix: str) -> str:
    """``template`` with every ``{name}`` renamed ``{<prefix>name}`` (statements combined
    into one, such as ``db.deferred``'s, keep their names apart this way)."""
    return "".join(
        _escaped(literal) + ("" if name is None else f"{{{prefix}{name}}}")
        for literal, name in _parsed(template)
    )


async def fetch(template: str, /, **params: Any) -> Sequence[Row]:
    """Rows of ``template`` with ``params`` bound, in the current transaction if there is one
    (else on the connection ``one_connection`` holds, else on one from the pool)."""
    query = compiled(template)
    transaction = engine().current_transaction.get()
    if transaction is None:
        held = _held.get()
        if held is not None:
            rows: Sequence[Row] = await held.fetch(query.numbered, *query.arguments(params))
            return rows
        return await _in_pool(engine(), query, params)
    records: Sequence[Row] = await transaction.connection.fetch(
        query.numbered, *query.arguments(params)
    )
    return records


async def plan_each_run() -> None:
    """The current transaction's statements are planned for their own values each time they
    run, not by the generic plan PostgreSQL keeps for a prepared statement (asyncpg prepares
    every one) after five runs. For the periodic reads of a window of a growing table
    (``created_at > {since}``, ``feed_xid >= {mark}``): their generic plan guesses a third of
    the table and reads all of it, and one made while the table was small stays cached on
    its connection until the table's next ANALYZE (never, with autovacuum off). Planning
    costs such a statement a fraction of a millisecond; on a sale's statements, which run
    hundreds of times a second and plan well generically, it would not pay (issue #24)."""
    assert engine().current_transaction.get() is not None, "SET LOCAL needs a transaction"
    await fetch("SET LOCAL plan_cache_mode = force_custom_plan")


async def fetch_lagging(template: str, /, **params: Any) -> Sequence[Row]:
    """``fetch`` for a read that tolerates lag (reports, history): on the read replica while
    it serves such reads (``db.replica``), else on the primary, also when the replica fails
    it for a connection reason."""
    query = compiled(template)

    async def read(node: str | None) -> Sequence[Row]:
        if node is None:  # the primary: in the caller's transaction if there is one
            return await fetch(template, **params)
        return await _in_pool(engine().extra_nodes[node], query, params)

    return await read_lagging(read)


@asynccontextmanager
async def one_connection() -> AsyncIterator[None]:
    """The block's statements outside a transaction run on one pooled connection, each its
    own (autocommitted) transaction: a connection taken from the pool once, and given back
    (with asyncpg's reset query, a round trip) once, instead of once per statement. For a
    sale made of one read and one write (``backend.till.purchases``)."""
    pool = engine().pool
    if pool is None or _held.get() is not None:
        yield
        return
    async with pool.acquire() as connection:
        token = _held.set(connection)
        try:
            yield
        finally:
            _held.reset(token)


async def _in_pool(
    node: PostgresEngine, query: Compiled, params: Mapping[str, Any]
) -> Sequence[Row]:
    """Outside a transaction: on a connection of the node's pool (as Piccolo runs a query)."""
    arguments = query.arguments(params)
    if node.pool is None:  # a command without a pool: Piccolo's own new-connection path
        connection = await node.get_new_connection()
        try:
            return await connection.fetch(query.numbered, *arguments)  # type: ignore[no-any-return]
        finally:
            await connection.close()
    async with node.pool.acquire() as connection:
        return await connection.fetch(query.numbered, *arguments)  # type: ignore[no-any-return]


def loaded_json(value: Any) -> Any:
    """A JSON/JSONB column's value as Python data: asyncpg (with no codec set) and Piccolo's raw
    queries hand it over as text, Piccolo's ``load_json`` outputs already decoded."""
    return msgspec.json.decode(value) if isinstance(value, str) else value
