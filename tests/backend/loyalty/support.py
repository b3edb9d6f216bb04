"""Staff adjustments of a member's points, for the tests of adjustments and their approvals:
the request through the API and the ledger's entries it made."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from piccolo.columns import Column

from db.tables import LedgerEntry
from tests.factories import SignedInStaff


async def adjust(
    client: httpx.AsyncClient,
    staff: SignedInStaff,
    member_id: str,
    body: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    """A points adjustment of ``member_id``, with the given Idempotency-Key or a fresh one."""
    return await client.post(
        f"/v1/admin/members/{member_id}/adjustments",
        headers={**staff.headers, "Idempotency-Key": key or uuid.uuid4().hex},
        json=body,
    )


async def staff_entries(*columns: Column) -> list[dict[str, Any]]:
    """The ledger's entries made by staff, oldest first: ``columns`` of each (by default the
    points and who made them)."""
    return await (
        LedgerEntry.select(*(columns or (LedgerEntry.available_delta, LedgerEntry.cause_id)))
        .where(LedgerEntry.cause_type == "staff")
        .order_by(LedgerEntry.id)
    )
