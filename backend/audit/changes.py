"""An admin's change to one row (a store, a staff account), saved and put on the audit trail
in one transaction: the row as ``read`` shows it afterwards, and as it was before."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from asyncpg.exceptions import UniqueViolationError
from piccolo.table import Table

from backend.audit.trail import record
from backend.errors import Conflict
from db.pool import engine

Shown = TypeVar("Shown")


async def insert_audited(
    row: Table,
    read: Callable[[uuid.UUID], Awaitable[Shown]],
    *,
    action: str,
    target_type: str,
    store_ids: Iterable[uuid.UUID],
    taken: str,
) -> Shown:
    """Insert ``row`` and record it as ``read`` shows it; a row that clashes with a unique
    one is a Conflict that says ``taken``."""
    row_id: uuid.UUID = getattr(row, row._meta.primary_key._meta.name)
    try:
        return await _written(row.save(), row_id, read, action, target_type, store_ids, None)
    except UniqueViolationError as exc:
        raise Conflict(taken) from exc


async def update_audited(
    table: type[Table],
    row_id: uuid.UUID,
    values: dict[Any, Any],
    *,
    before: Shown,
    read: Callable[[uuid.UUID], Awaitable[Shown]],
    action: str,
    target_type: str,
    store_ids: Iterable[uuid.UUID],
    recorded: Callable[[Shown], Any] | None = None,
) -> Shown:
    """Set ``values`` on the row (none: it stays ``before``, and nothing is recorded) and
    record it before and after as ``read`` shows it; ``recorded``: what of the row after the
    trail keeps, when not all of it."""
    if not values:
        return before
    write = table.update(values).where(table._meta.primary_key == row_id)
    return await _written(write, row_id, read, action, target_type, store_ids, before, recorded)


async def _written(
    write: Awaitable[Any],
    row_id: uuid.UUID,
    read: Callable[[uuid.UUID], Awaitable[Shown]],
    action: str,
    target_type: str,
    store_ids: Iterable[uuid.UUID],
    before: Shown | None,
    recorded: Callable[[Shown], Any] | None = None,
) -> Shown:
    """``write`` run, the row read back and recorded, in one transaction."""
    async with engine().transaction():
        await write
        after = await read(row_id)
        await record(
            action,
            target_type=target_type,
            target_id=row_id,
            before=before,
            after=after if recorded is None else recorded(after),
            store_ids=store_ids,
        )
    return after
