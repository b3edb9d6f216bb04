"""Reading the audit trail: admins all of it, managers the entries about their stores."""

from __future__ import annotations

import uuid

import msgspec

from backend.audit.schemas import AuditEntryOut, AuditFilter, AuditPage
from backend.audit.trail import Actor, record
from backend.auth.callers import Role, StaffCaller
from backend.errors import ValidationFailed
from db import sql

PAGE_MAX = 200

# Newest first; ids are time-ordered, so the cursor is the last id seen. Every filter is
# optional: a NULL parameter matches everything.
_PAGE = """
SELECT id, at, staff_id, role, store_ids, action, target_type, target_id, before, after,
       request_id, client_address
FROM audit_entry
WHERE ({stores}::uuid[] IS NULL OR store_ids && {stores}::uuid[])
  AND ({staff_id}::uuid IS NULL OR staff_id = {staff_id}::uuid)
  AND ({action}::text IS NULL OR action = {action}::text)
  AND ({target_type}::text IS NULL OR target_type = {target_type}::text)
  AND ({target_id}::text IS NULL OR target_id = {target_id}::text)
  AND ({since}::timestamptz IS NULL OR at >= {since}::timestamptz)
  AND ({until}::timestamptz IS NULL OR at < {until}::timestamptz)
  AND ({cursor}::uuid IS NULL OR id < {cursor}::uuid)
ORDER BY id DESC
LIMIT {limit}
"""


async def read_trail(
    caller: StaffCaller, where: AuditFilter, *, limit: int, cursor: str | None
) -> AuditPage:
    for name in ("since", "until"):
        instant = getattr(where, name)
        if instant is not None and instant.tzinfo is None:
            raise ValidationFailed(f"{name} needs a UTC offset (RFC 3339)", field=name)
    if where.since is not None and where.until is not None and where.until <= where.since:
        raise ValidationFailed("until must be after since", field="until")
    try:
        after_id = None if cursor is None else uuid.UUID(cursor)
    except ValueError as exc:
        raise ValidationFailed("cursor is not valid", field="cursor") from exc
    filters = msgspec.structs.asdict(where)
    # Reading the trail reads personal data too (addresses, card numbers): it is recorded.
    await record(
        "audit.read",
        target_type="audit",
        target_id=None,
        after=filters | {"cursor": cursor},
        actor=Actor.of(caller),
    )
    # A manager's view: the entries about their stores (an admin's stores are all).
    stores = None if caller.role == Role.ADMIN else sorted(caller.store_ids)
    # The page's query names its parameters as the filter does its fields.
    rows = await sql.fetch_lagging(
        _PAGE,
        stores=stores,
        cursor=after_id,
        limit=limit + 1,
        **filters,
    )
    items = [
        AuditEntryOut(
            **{
                **dict(row),
                "before": sql.loaded_json(row["before"]),
                "after": sql.loaded_json(row["after"]),
            }
        )
        for row in rows[:limit]
    ]
    return AuditPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)
