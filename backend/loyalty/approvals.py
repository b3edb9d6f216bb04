"""The second pair of eyes: adjustments above a manager's limits wait here until another
staff member (a manager of one of the stores concerned, or an admin; never the requester)
approves them onto the ledger or rejects them.

A decision is idempotent: the row is locked, so of two approvers at once one posts and the
other gets the decided approval back, and the points reach the ledger once. Refusals (one's
own request, another store's) are audited outside any transaction so that they stay.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from backend.audit.trail import Actor, record
from backend.auth.callers import Role, StaffCaller
from backend.errors import ApprovalDecided, ApproverIsRequester, Forbidden, NotFound
from backend.loyalty.adjustments import post_adjustment
from backend.loyalty.schemas import Balance
from db import sql
from db.pool import engine
from db.tables import AdjustmentApproval
from realtime.publisher import EventPublisher, Outgoing

Decision = Literal["approved", "rejected"]


class ApprovalOut(msgspec.Struct, frozen=True):
    id: uuid.UUID
    member_id: uuid.UUID
    points: int
    reason: str
    requested_by: uuid.UUID
    store_ids: list[uuid.UUID]
    exceeded: str  # per_adjustment or per_day: the limit it crossed
    status: Literal["pending", "approved", "rejected"]
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    created_at: datetime


class ApprovalList(msgspec.Struct, frozen=True):
    items: list[ApprovalOut]


class ApprovalDecision(msgspec.Struct, frozen=True):
    approval: ApprovalOut
    balance: Balance | None  # after the posting; None when rejected or already decided


_COLUMNS = (
    AdjustmentApproval.id,
    AdjustmentApproval.member.as_alias("member_id"),
    AdjustmentApproval.points,
    AdjustmentApproval.reason,
    AdjustmentApproval.requested_by.as_alias("requested_by"),
    AdjustmentApproval.store_ids,
    AdjustmentApproval.exceeded,
    AdjustmentApproval.status,
    AdjustmentApproval.decided_by,
    AdjustmentApproval.decided_at,
    AdjustmentApproval.created_at,
)
_PENDING = """
SELECT id, member AS member_id, points, reason, requested_by, store_ids, exceeded, status,
       decided_by, decided_at, created_at
FROM adjustment_approval
WHERE status = 'pending' AND ({everyone}::boolean OR store_ids && {store_ids}::uuid[])
ORDER BY created_at LIMIT 500
"""
_LOCK = "SELECT status FROM adjustment_approval WHERE id = {approval_id} FOR UPDATE"


async def pending_approvals(caller: StaffCaller) -> ApprovalList:
    """Oldest first; a manager sees those of their stores (an admin all)."""
    rows = await sql.fetch(
        _PENDING,
        everyone=caller.role == Role.ADMIN,
        store_ids=sorted(caller.store_ids),
    )
    return ApprovalList(items=[ApprovalOut(**row) for row in rows])


def _may_decide(caller: StaffCaller, row: dict[str, Any]) -> bool:
    if caller.role == Role.ADMIN:
        return True
    return caller.role == Role.MANAGER and bool(caller.store_ids & set(row["store_ids"]))


async def _approval(approval_id: uuid.UUID) -> ApprovalOut:
    row = await AdjustmentApproval.select(*_COLUMNS).where(AdjustmentApproval.id == approval_id)
    if not row:
        raise NotFound(f"approval {approval_id} does not exist")
    return ApprovalOut(**row[0])


async def _refuse(caller: StaffCaller, found: ApprovalOut, why: str) -> None:
    await record(
        "adjustment.decision_refused",
        target_type="adjustment_approval",
        target_id=found.id,
        after={"why": why, "member_id": found.member_id},
        store_ids=found.store_ids,
        actor=Actor.of(caller),
    )


async def decide(
    caller: StaffCaller,
    approval_id: uuid.UUID,
    decision: Decision,
    publisher: EventPublisher,
) -> ApprovalDecision:
    found = await _approval(approval_id)
    if found.requested_by == caller.staff_id:
        await _refuse(caller, found, "own_request")
        raise ApproverIsRequester("a second staff member must decide this adjustment")
    if not _may_decide(caller, msgspec.structs.asdict(found)):
        await _refuse(caller, found, "not_of_your_stores")
        raise Forbidden("only an admin or a manager of the member's stores may decide this")
    events: list[Outgoing] = []
    balance: Balance | None = None
    async with engine().transaction():
        status = (await sql.fetch(_LOCK, approval_id=approval_id))[0]["status"]
        if status == decision:
            return ApprovalDecision(approval=await _approval(approval_id), balance=None)
        if status != "pending":
            raise ApprovalDecided(f"this adjustment was already {status}", status=status)
        before = None
        if decision == "approved":
            before, balance, events = await post_adjustment(
                found.member_id, found.points, found.reason, found.requested_by
            )
        await AdjustmentApproval.update(
            {
                AdjustmentApproval.status: decision,
                AdjustmentApproval.decided_by: caller.staff_id,
                AdjustmentApproval.decided_at: datetime.now(UTC),
            }
        ).where(AdjustmentApproval.id == approval_id)
        await record(
            f"adjustment.{decision}",
            target_type="member",
            target_id=found.member_id,
            before=None if before is None else {"balance": before},
            after={
                "approval_id": approval_id,
                "points": found.points,
                "reason": found.reason,
                "requested_by": found.requested_by,
                "balance": balance,
            },
            store_ids=found.store_ids,
            actor=Actor.of(caller),
        )
        decided = await _approval(approval_id)
    await publisher.publish(events)
    return ApprovalDecision(approval=decided, balance=balance)
