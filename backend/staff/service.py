"""Staff accounts: login check, creation by admins, changes of role, stores and status."""

from __future__ import annotations

import uuid
from typing import Any

from asyncpg.exceptions import UniqueViolationError

from backend.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from backend.staff.passwords import hash_password, verify_password
from backend.staff.schemas import StaffCreate, StaffOut, StaffPage, StaffUpdate
from db.tables import StaffUser, Store

PAGE_MAX = 100


async def check_login(email: str, password: str) -> uuid.UUID:
    row = (
        await StaffUser.select(StaffUser.id, StaffUser.password_hash, StaffUser.active)
        .where(StaffUser.email == email.lower())
        .first()
    )
    stored_hash = row["password_hash"] if row is not None else None
    if not await verify_password(stored_hash, password) or row is None or not row["active"]:
        raise Unauthorized("wrong email or password")
    return uuid.UUID(str(row["id"]))


async def create_staff(data: StaffCreate) -> StaffOut:
    await _check_stores(data.role, data.store_ids)
    user = StaffUser(
        email=data.email.lower(),
        name=data.name,
        password_hash=await hash_password(data.password),
        role=data.role,
        store_ids=list(dict.fromkeys(data.store_ids)),
    )
    try:
        await user.save()
    except UniqueViolationError as exc:
        raise Conflict(f"a staff user with email {data.email} exists") from exc
    return await get_staff(user.id)


async def update_staff(staff_id: uuid.UUID, data: StaffUpdate) -> StaffOut:
    current = await get_staff(staff_id)
    values: dict[Any, Any] = {}
    role = data.role or current.role
    store_ids = data.store_ids if data.store_ids is not None else current.store_ids
    if data.role is not None or data.store_ids is not None:
        await _check_stores(role, store_ids)
        values[StaffUser.role] = role
        values[StaffUser.store_ids] = list(dict.fromkeys(store_ids))
    if data.active is not None:
        values[StaffUser.active] = data.active
    if data.password is not None:
        values[StaffUser.password_hash] = await hash_password(data.password)
    if values:
        await StaffUser.update(values).where(StaffUser.id == staff_id)
    return await get_staff(staff_id)


async def get_staff(staff_id: uuid.UUID) -> StaffOut:
    row = await _select().where(StaffUser.id == staff_id).first()
    if row is None:
        raise NotFound(f"staff user {staff_id} does not exist")
    return StaffOut(**row)


async def list_staff(*, limit: int, cursor: str | None) -> StaffPage:
    query = _select().order_by(StaffUser.id).limit(limit + 1)
    if cursor is not None:
        query = query.where(StaffUser.id > _cursor(cursor))
    rows = await query
    items = [StaffOut(**row) for row in rows[:limit]]
    next_cursor = str(items[-1].id) if len(rows) > limit else None
    return StaffPage(items=items, next_cursor=next_cursor)


def _select() -> Any:
    return StaffUser.select(
        StaffUser.id,
        StaffUser.email,
        StaffUser.name,
        StaffUser.role,
        StaffUser.store_ids,
        StaffUser.active,
        StaffUser.created_at,
    )


def _cursor(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(cursor)
    except ValueError as exc:
        raise ValidationFailed("cursor is not valid") from exc


async def _check_stores(role: str, store_ids: list[uuid.UUID]) -> None:
    if role == "admin" and store_ids:
        raise ValidationFailed("admins work for the whole chain: leave store_ids empty")
    if role != "admin" and not store_ids:
        raise ValidationFailed(f"a {role} needs at least one store in store_ids")
    if store_ids:
        found = await Store.count().where(Store.id.is_in(list(store_ids)))
        if found != len(set(store_ids)):
            raise ValidationFailed("store_ids names a store that does not exist")
