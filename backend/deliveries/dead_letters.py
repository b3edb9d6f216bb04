"""A dead letter put back in line by an admin (the accounting outbox's, a push's), once the
cause is fixed: pending again, due now, with a fresh attempt count, on the audit trail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec

from backend.audit.trail import record
from backend.errors import Conflict, NotFound
from db import sql
from db.pool import engine


class RetryResult(msgspec.Struct, frozen=True):
    id: uuid.UUID
    status: str


async def put_back_in_line(
    item_id: uuid.UUID, *, lock: str, back: str, what: str, action: str, target_type: str
) -> RetryResult:
    """``lock`` reads the row's ``status, attempts, last_error`` ``FOR UPDATE`` (``{id}``);
    ``back`` makes it pending (``{id}``, ``{now}``). Unknown: NotFound; not dead: Conflict.
    ``what`` names it in the problem, ``action`` on the audit trail."""
    async with engine().transaction():
        rows = await sql.fetch(lock, id=item_id)
        if not rows:
            raise NotFound(f"{what} {item_id} does not exist")
        before = rows[0]
        if before["status"] != "dead":
            raise Conflict(
                f"only dead letters are retried; this one is {before['status']}",
                status=before["status"],
            )
        await sql.fetch(back, id=item_id, now=datetime.now(UTC))
        await record(
            action,
            target_type=target_type,
            target_id=item_id,
            before=dict(before),
            after={"status": "pending", "attempts": 0},
        )
    return RetryResult(id=item_id, status="pending")
