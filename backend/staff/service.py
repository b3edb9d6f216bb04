"""Staff accounts: creation by admins, changes of role, stores, status and password (each
audited with the account before and after; logins are ``backend.staff.logins``)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from backend.audit.changes import insert_audited, update_audited
from backend.errors import NotFound, ValidationFailed
from backend.staff.passwords import hash_password
from backend.staff.schemas import StaffCreate, StaffOut, StaffPage, StaffUpdate
from db.tables import StaffUser, Store

PAGE_MAX = 100


async def create_staff(data: StaffCreate) -> StaffOut:
    await _check_stores(data.role, data.store_ids)
    user = StaffUser(
        email=data.email.lower(),
        name=data.name,
        password_hash=await hash_password(data.password),
        role=data.role,
        store_ids=list(dict.fromkeys(data.store_ids)),
    )
    return await insert_audited(
        user,
        get_staff,
        action="staff.created",
        target_type="staff",
        store_ids=user.store_ids,
        taken=f"a staff user with email {data.email} exists",
    )


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
    return await update_audited(
        StaffUser,
        staff_id,
        values,
        before=current,
        read=get_staff,
        action="staff.updated",
        target_type="staff",
        store_ids={*current.store_ids, *store_ids},
        # The hash is never recorded, only that the password changed.
        recorded=lambda changed: {
            **msgspec.structs.asdict(changed),
            "password_changed": data.password is not None,
        },
    )


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
        StaffUser.locked_until,
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
