"""Appending to the audit trail (``audit_entry``), inside the caller's transaction.

Who acts is the staff user the request authenticated (``backend.auth.callers.
acting_caller``), unless the caller names someone (a login, before anyone is signed in); the
request id and client address come from the request middleware (``backend.ops.logging``).
So a service records an action with what only it knows: the action, its target and the
target before and after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from backend.auth.callers import StaffCaller, acting_caller
from backend.ops.logging import client_address_var, request_id_var
from db import sql
from db.ids import new_id


@dataclass(frozen=True, slots=True)
class Actor:
    """A staff user as the trail records them."""

    staff_id: uuid.UUID | None
    role: str | None = None
    store_ids: frozenset[uuid.UUID] = frozenset()

    @classmethod
    def of(cls, caller: StaffCaller) -> Actor:
        return cls(caller.staff_id, caller.role.value, caller.store_ids)


NOBODY = Actor(None)

_APPEND = """
INSERT INTO audit_entry (id, at, staff_id, role, store_ids, action, target_type, target_id,
                         before, after, request_id, client_address)
VALUES ({id}, {at}, {staff_id}, {role}, {store_ids}::uuid[], {action}, {target_type},
        {target_id}, {before}::jsonb, {after}::jsonb, {request_id}, {client_address})
"""
_encoder = msgspec.json.Encoder()


def _acting() -> Actor:
    caller = acting_caller.get()
    return Actor.of(caller) if isinstance(caller, StaffCaller) else NOBODY


def _json(value: Any) -> str | None:
    return None if value is None else _encoder.encode(value).decode()


async def record(
    action: str,
    *,
    target_type: str,
    target_id: object | None,
    before: Any = None,
    after: Any = None,
    store_ids: Iterable[uuid.UUID] = (),
    actor: Actor | None = None,
) -> None:
    """Append one entry, in the current transaction when there is one (so it commits or
    rolls back with the change it tells of).

    The stores it concerns are ``store_ids`` and the actor's own: a manager reads the
    entries about their stores and those of the staff who work in them.
    """
    who = actor if actor is not None else _acting()
    stores = sorted({*store_ids, *who.store_ids})
    await sql.fetch(
        _APPEND,
        id=new_id(),
        at=datetime.now(UTC),
        staff_id=who.staff_id,
        role=who.role,
        store_ids=stores,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=_json(before),
        after=_json(after),
        request_id=request_id_var.get(),
        client_address=client_address_var.get(),
    )
