"""Manual adjustments by staff: a reason is required; the ledger entry says who (the staff
user as cause), why (the reason as note) and when, and the audit trail records it with the
balance before and after (in the same transaction; a replay is not a new action)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import msgspec

from backend.accounting.documents import program_day, record_document
from backend.audit.trail import Actor, record
from backend.auth.callers import StaffCaller
from backend.errors import ValidationFailed
from backend.idempotency import request_fingerprint, run_once
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.ledger import lock_account
from backend.loyalty.rules import current_rules
from backend.loyalty.schemas import Balance
from backend.text import FilledParagraph
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


async def adjust_points(
    *,
    staff: StaffCaller,
    member_id: uuid.UUID,
    request: AdjustmentRequest,
    key: str,
    publisher: EventPublisher,
) -> tuple[AdjustmentResponse, bool]:
    if request.points == 0:
        raise ValidationFailed("an adjustment of 0 points changes nothing")

    async def work() -> tuple[AdjustmentResponse, list[Outgoing]]:
        change = AccountChange(await lock_account(member_id), now=datetime.now(UTC))
        before = change.balance
        cause = Cause("staff", staff.staff_id, request.reason)
        await change.adjust(request.points, cause, (await current_rules()).rules)
        await record_document(
            type="points_adjustment",
            reference=member_id,
            occurred_at=change.now,
            business_date=program_day(change.now),  # no store made it
            points_liability_delta=request.points,
        )
        _, envelopes = await change.finish(context={"reason": "adjustment"})
        response = AdjustmentResponse(
            member_id=member_id,
            points=request.points,
            reason=request.reason,
            staff_id=staff.staff_id,
            balance=change.balance,
        )
        await record(
            "points.adjusted",
            target_type="member",
            target_id=member_id,
            before={"balance": before},
            after={"points": request.points, "reason": request.reason, "balance": change.balance},
            actor=Actor.of(staff),
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
