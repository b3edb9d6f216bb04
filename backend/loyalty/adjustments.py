"""Manual adjustments by staff: a reason is required; the ledger entry says who (the staff
user as cause), why (the reason as note) and when, and the audit trail records it with the
balance before and after (in the same transaction; a replay is not a new action).

Limits on one employee (issue #20): a manager adjusts only members who bought in one of
their stores, and alone only up to a number of points per adjustment and per day; above
either, the adjustment waits in ``adjustment_approval`` for a second staff member
(``backend.loyalty.approvals``). Admins work chain-wide without these limits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Annotated, Literal

import msgspec

from backend.accounting.documents import program_day, program_zone, record_document
from backend.audit.trail import Actor, record
from backend.auth.callers import Role, StaffCaller
from backend.errors import Forbidden, MemberNotFound, ValidationFailed
from backend.idempotency import request_fingerprint, run_once
from backend.local_time import instant_of
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.ledger import lock_account
from backend.loyalty.rules import current_rules
from backend.loyalty.schemas import Balance
from backend.text import FilledParagraph
from db import sql
from db.ids import new_id
from db.tables import AdjustmentApproval, Member
from realtime.publisher import EventPublisher, Outgoing


class AdjustmentRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    points: Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
    reason: Annotated[FilledParagraph, msgspec.Meta(min_length=3, max_length=500)]


class AdjustmentResponse(msgspec.Struct, frozen=True):
    member_id: uuid.UUID
    points: int
    reason: str
    staff_id: uuid.UUID
    balance: Balance
    # pending_approval: above the requester's limits, not on the ledger until a second staff
    # member approves ``approval_id`` (the balance is the one before).
    status: Literal["posted", "pending_approval"] = "posted"
    approval_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class AdjustmentLimits:
    """What one manager may adjust alone (ASTROCOFFEE_ADJUSTMENT_MAX_POINTS and
    ASTROCOFFEE_ADJUSTMENT_DAILY_POINTS): points either way per adjustment, and in total
    per day of the program's calendar."""

    max_points: int = 5_000
    daily_points: int = 20_000


# The stores of ``store_ids`` the member bought in (purchase is indexed by member).
_STORES_BOUGHT_IN = """
SELECT COALESCE(array_agg(DISTINCT store), ARRAY[]::uuid[]) AS stores
FROM purchase WHERE member = {member_id} AND store = ANY({store_ids}::uuid[])
"""
_ERASED = "SELECT 1 FROM member_erasure WHERE member = {member_id}"
# One manager's adjustments are counted one at a time, so two at once cannot both fit.
_LOCK_STAFF_DAY = "SELECT pg_advisory_xact_lock(hashtextextended({key}, 0))"
# What the manager posted alone since the day began: their audited adjustments (the trail is
# indexed by staff and written in each adjustment's transaction).
_POSTED_TODAY = """
SELECT COALESCE(SUM(abs((after->>'points')::bigint)), 0)::bigint AS points
FROM audit_entry
WHERE staff_id = {staff_id} AND action = 'points.adjusted' AND at >= {since}
"""


async def stores_bought_in(
    member_id: uuid.UUID, store_ids: frozenset[uuid.UUID]
) -> list[uuid.UUID]:
    rows = await sql.fetch(_STORES_BOUGHT_IN, member_id=member_id, store_ids=sorted(store_ids))
    return sorted(rows[0]["stores"])


async def require_member_of_stores(staff: StaffCaller, member_id: uuid.UUID) -> list[uuid.UUID]:
    """The stores through which ``staff`` may adjust the member: none needed for an admin;
    for a manager those of theirs the member bought in (none: refused, and audited)."""
    if staff.role == Role.ADMIN:
        return []
    stores = await stores_bought_in(member_id, staff.store_ids)
    if stores:
        return stores
    if not await Member.exists().where(Member.id == member_id):
        raise MemberNotFound(f"member {member_id} does not exist")
    # Outside any transaction: the refusal stays on the trail.
    await record(
        "points.adjustment_refused",
        target_type="member",
        target_id=member_id,
        after={"why": "member_not_of_your_stores"},
        actor=Actor.of(staff),
    )
    raise Forbidden("this member has not bought in any of your stores")


async def post_adjustment(
    member_id: uuid.UUID, points: int, reason: str, requested_by: uuid.UUID
) -> tuple[Balance, Balance, list[Outgoing]]:
    """Put an adjustment on the ledger (with its accounting document), inside the caller's
    transaction. Returns the balance before and after, and the events to publish. An erased
    member is nobody: refused."""
    change = AccountChange(await lock_account(member_id), now=datetime.now(UTC))
    if await sql.fetch(_ERASED, member_id=member_id):
        # Erased (under the same account lock the erasure takes): there is nobody to credit,
        # and an approval that waited past the erasure must not bring points back.
        raise MemberNotFound(f"member {member_id} was erased")
    before = change.balance
    await change.adjust(points, Cause("staff", requested_by, reason), (await current_rules()).rules)
    await record_document(
        type="points_adjustment",
        reference=member_id,
        occurred_at=change.now,
        business_date=program_day(change.now),  # no store made it
        points_liability_delta=points,
    )
    _, envelopes = await change.finish(context={"reason": "adjustment"})
    return before, change.balance, envelopes


async def _limit_exceeded(
    staff: StaffCaller, points: int, limits: AdjustmentLimits
) -> Literal["per_adjustment", "per_day"] | None:
    if staff.role == Role.ADMIN:
        return None
    if abs(points) > limits.max_points:
        return "per_adjustment"
    now = datetime.now(UTC)
    since = instant_of(datetime.combine(program_day(now), time()), program_zone())
    await sql.fetch(_LOCK_STAFF_DAY, key=f"adjustments:{staff.staff_id}")
    rows = await sql.fetch(_POSTED_TODAY, staff_id=staff.staff_id, since=since)
    if int(rows[0]["points"]) + abs(points) > limits.daily_points:
        return "per_day"
    return None


async def adjust_points(
    *,
    staff: StaffCaller,
    member_id: uuid.UUID,
    request: AdjustmentRequest,
    key: str,
    publisher: EventPublisher,
    limits: AdjustmentLimits | None = None,
) -> tuple[AdjustmentResponse, bool]:
    if request.points == 0:
        raise ValidationFailed("an adjustment of 0 points changes nothing")
    limits = limits or AdjustmentLimits()
    stores = await require_member_of_stores(staff, member_id)

    async def work() -> tuple[AdjustmentResponse, list[Outgoing]]:
        exceeded = await _limit_exceeded(staff, request.points, limits)
        if exceeded is not None:
            return await _wait_for_approval(staff, member_id, request, stores, exceeded), []
        before, after, envelopes = await post_adjustment(
            member_id, request.points, request.reason, staff.staff_id
        )
        await record(
            "points.adjusted",
            target_type="member",
            target_id=member_id,
            before={"balance": before},
            after={"points": request.points, "reason": request.reason, "balance": after},
            store_ids=stores,
            actor=Actor.of(staff),
        )
        response = AdjustmentResponse(
            member_id=member_id,
            points=request.points,
            reason=request.reason,
            staff_id=staff.staff_id,
            balance=after,
        )
        return response, envelopes

    return await run_once(
        scope=staff.scope,
        key=key,
        fingerprint=request_fingerprint(msgspec.json.encode(["adjust", member_id, request])),
        work=work,
        response_type=AdjustmentResponse,
        publish=publisher.publish,
        status=201,
    )


async def _wait_for_approval(
    staff: StaffCaller,
    member_id: uuid.UUID,
    request: AdjustmentRequest,
    stores: list[uuid.UUID],
    exceeded: str,
) -> AdjustmentResponse:
    account = await lock_account(member_id)
    approval_id = new_id()
    await AdjustmentApproval(
        id=approval_id,
        member=member_id,
        points=request.points,
        reason=request.reason,
        requested_by=staff.staff_id,
        store_ids=stores,
        exceeded=exceeded,
        status="pending",
        created_at=datetime.now(UTC),
    ).save()
    await record(
        "adjustment.requested",
        target_type="member",
        target_id=member_id,
        after={
            "approval_id": approval_id,
            "points": request.points,
            "reason": request.reason,
            "exceeded": exceeded,
        },
        store_ids=stores,
        actor=Actor.of(staff),
    )
    return AdjustmentResponse(
        member_id=member_id,
        points=request.points,
        reason=request.reason,
        staff_id=staff.staff_id,
        balance=account.balance,
        status="pending_approval",
        approval_id=approval_id,
    )
