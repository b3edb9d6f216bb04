"""Stores and terminals, with the store scoping of ``backend.auth.access`` applied; every
change audited in its own transaction (``backend.audit.trail``)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from piccolo.columns import Column

from backend.audit.changes import insert_audited, update_audited
from backend.audit.trail import record
from backend.auth.access import require_admin_or_store_manager, require_store
from backend.auth.callers import Role, StaffCaller
from backend.auth.terminals import TerminalDirectory, create_terminal
from backend.errors import NotFound
from backend.local_time import StoreClock, zone_named
from backend.stores.schemas import (
    NewTerminal,
    StoreCreate,
    StoreList,
    StoreOut,
    StoreUpdate,
    TerminalList,
    TerminalOut,
)
from db.pool import engine
from db.tables import Store, Terminal

_STORE_COLUMNS = (
    Store.id,
    Store.code,
    Store.name,
    Store.currency,
    Store.time_zone,
    Store.day_starts_at,
    Store.max_sale_amount,
    Store.created_at,
)
_TERMINAL_COLUMNS = (
    Terminal.id,
    Terminal.store.as_alias("store_id"),
    Terminal.name,
    Terminal.key_prefix,
    Terminal.created_at,
    Terminal.revoked_at,
)


async def create_store(data: StoreCreate) -> StoreOut:
    zone_named(data.time_zone, field="time_zone")
    store = Store(**msgspec.structs.asdict(data))  # the request's fields are the columns
    return await insert_audited(
        store,
        get_store,
        action="store.created",
        target_type="store",
        store_ids=[store.id],
        taken=f"a store with code {data.code} exists",
    )


async def update_store(store_id: uuid.UUID, data: StoreUpdate) -> StoreOut:
    """Rename a store, move its clock or set its maximum sale. A new zone or day start
    applies from the next sale on; days already counted keep the figures they were counted
    with."""
    if data.time_zone is not None:
        zone_named(data.time_zone, field="time_zone")
    values: dict[Column | str, Any] = {
        column: value
        for column, value in (
            (Store.name, data.name),
            (Store.time_zone, data.time_zone),
            (Store.day_starts_at, data.day_starts_at),
        )
        if value is not None
    }
    if not isinstance(data.max_sale_amount, msgspec.UnsetType):
        values[Store.max_sale_amount] = data.max_sale_amount
    return await update_audited(
        Store,
        store_id,
        values,
        before=await get_store(store_id),
        read=get_store,
        action="store.updated",
        target_type="store",
        store_ids=[store_id],
    )


async def get_store(store_id: uuid.UUID) -> StoreOut:
    row = await Store.select(*_STORE_COLUMNS).where(Store.id == store_id).first()
    if row is None:
        raise NotFound(f"store {store_id} does not exist")
    return StoreOut(**row)


async def get_store_for(caller: StaffCaller, store_id: uuid.UUID) -> StoreOut:
    require_store(caller, store_id)
    return await get_store(store_id)


async def clock_for(caller: StaffCaller, store_id: uuid.UUID) -> StoreClock:
    """The store's business days and local hours, for a caller who may see the store (its
    figures and charts follow the store's access rule)."""
    store = await get_store_for(caller, store_id)
    return StoreClock.of(store.time_zone, store.day_starts_at)


async def list_stores_for(caller: StaffCaller) -> StoreList:
    query: Any = Store.select(*_STORE_COLUMNS).order_by(Store.code)
    if caller.role != Role.ADMIN:
        if not caller.store_ids:
            return StoreList(items=[])
        query = query.where(Store.id.is_in(list(caller.store_ids)))
    return StoreList(items=[StoreOut(**row) for row in await query])


async def add_terminal(caller: StaffCaller, store_id: uuid.UUID, name: str) -> NewTerminal:
    require_admin_or_store_manager(caller, store_id)
    store = await Store.objects().where(Store.id == store_id).first()
    if store is None:
        raise NotFound(f"store {store_id} does not exist")
    async with engine().transaction():
        terminal, key = await create_terminal(store=store, name=name)
        created = await _terminal(terminal.id)  # what is shown: never the key
        await record(
            "terminal.created",
            target_type="terminal",
            target_id=created.id,
            after=created,
            store_ids=[store_id],
        )
    return NewTerminal(terminal=created, api_key=key)


async def list_terminals(caller: StaffCaller, store_id: uuid.UUID) -> TerminalList:
    require_admin_or_store_manager(caller, store_id)
    rows = (
        await Terminal.select(*_TERMINAL_COLUMNS)
        .where(Terminal.store == store_id)
        .order_by(Terminal.created_at)
    )
    return TerminalList(items=[TerminalOut(**row) for row in rows])


async def revoke_terminal(
    caller: StaffCaller, terminal_id: uuid.UUID, directory: TerminalDirectory
) -> TerminalOut:
    before = await _terminal(terminal_id)
    require_admin_or_store_manager(caller, before.store_id)
    async with engine().transaction():
        await directory.revoke(terminal_id)
        after = await _terminal(terminal_id)
        await record(
            "terminal.revoked",
            target_type="terminal",
            target_id=terminal_id,
            before=before,
            after=after,
            store_ids=[before.store_id],
        )
    return after


async def _terminal(terminal_id: uuid.UUID) -> TerminalOut:
    row = await Terminal.select(*_TERMINAL_COLUMNS).where(Terminal.id == terminal_id).first()
    if row is None:
        raise NotFound(f"terminal {terminal_id} does not exist")
    return TerminalOut(**row)
