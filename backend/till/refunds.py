"""Refunds: full or partial, repeatable until the purchase is fully refunded.

Points follow the money in proportion: cumulative shares are rounded down, so each refund
takes back ``share(total) - already taken`` and a full refund reverses exactly what the
purchase earned and returns exactly what it redeemed. If the member already spent the points
being taken back, the balance goes below zero by that reversal alone (and shows it).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

from backend.accounting.documents import record_document
from backend.auth.callers import TerminalCaller
from backend.errors import NotFound, RefundExceedsPurchase
from backend.idempotency import request_fingerprint, run_once
from backend.local_time import StoreClock
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.earning import share
from backend.loyalty.ledger import lock_account
from backend.loyalty.rules import rules_at
from backend.loyalty.schemas import Balance
from backend.sales.schemas import Amount
from backend.stores.figures import DayMove, record_store_activity
from backend.text import Paragraph
from db import sql
from db.ids import new_id
from db.tables import PointLot, Purchase, Refund
from realtime.publisher import EventPublisher, Outgoing


class RefundRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``amount``: the gross value (before loyalty discount) of what is returned."""

    amount: Amount
    reason: Annotated[Paragraph, msgspec.Meta(max_length=500)] = ""


class RefundResponse(msgspec.Struct, frozen=True):
    refund_id: uuid.UUID
    purchase_id: uuid.UUID
    amount: int
    points_reversed: int
    points_returned: int
    refunded_amount: int
    fully_refunded: bool
    balance: Balance


class RefundService:
    def __init__(self, *, publisher: EventPublisher) -> None:
        self._publisher = publisher

    async def refund(
        self,
        *,
        terminal: TerminalCaller,
        purchase_id: uuid.UUID,
        request: RefundRequest,
        key: str,
    ) -> tuple[RefundResponse, bool]:
        async def work() -> tuple[RefundResponse, list[Outgoing]]:
            return await _refund(terminal, purchase_id, request)

        return await run_once(
            scope=terminal.scope,
            key=key,
            fingerprint=request_fingerprint(msgspec.json.encode(["refund", purchase_id, request])),
            work=work,
            response_type=RefundResponse,
            publish=self._publisher.publish,
            status=201,
        )


# The purchase, locked, with its store's calendar (the day its figures and documents move).
_LOCK_PURCHASE = """
SELECT p.id, s.time_zone, s.day_starts_at FROM purchase p JOIN store s ON s.id = p.store
WHERE p.id = {id} FOR UPDATE OF p
"""


async def _refund(
    terminal: TerminalCaller, purchase_id: uuid.UUID, request: RefundRequest
) -> tuple[RefundResponse, list[Outgoing]]:
    rows = await sql.fetch(_LOCK_PURCHASE, id=purchase_id)
    purchase = await Purchase.objects().where(Purchase.id == purchase_id).first() if rows else None
    # Another store's purchase is answered as if it did not exist.
    if purchase is None or purchase.store != terminal.store_id:
        raise NotFound(f"purchase {purchase_id} does not exist")
    left = purchase.amount - purchase.refunded_amount
    if request.amount > left:
        raise RefundExceedsPurchase(
            f"{left} of this purchase is left to refund", refundable_amount=left
        )
    refunded = purchase.refunded_amount + request.amount
    reverse = share(purchase.points_earned, refunded, purchase.amount) - purchase.points_reversed
    give_back = (
        share(purchase.points_redeemed, refunded, purchase.amount) - purchase.points_returned
    )

    now = datetime.now(UTC)
    clock = StoreClock.of(rows[0]["time_zone"], rows[0]["day_starts_at"])
    refund_id = new_id()
    cause = Cause("refund", refund_id, request.reason)
    change = AccountChange(await lock_account(purchase.member), now=now)
    await _take_back_earned(change, purchase, reverse, cause)
    await change.credit("refund_return", give_back, cause, await rules_at(purchase.rules_version))

    await Refund(
        id=refund_id,
        purchase=purchase.id,
        amount=request.amount,
        points_reversed=reverse,
        points_returned=give_back,
        reason=request.reason,
        created_at=now,
    ).save()
    values: dict[Any, Any] = {
        Purchase.refunded_amount: refunded,
        Purchase.points_reversed: purchase.points_reversed + reverse,
        Purchase.points_returned: purchase.points_returned + give_back,
    }
    await Purchase.update(values).where(Purchase.id == purchase.id)
    await record_document(
        type="refund",
        reference=refund_id,
        occurred_at=now,
        business_date=clock.business_day(now),  # booked on the day the money went back
        store_id=purchase.store,
        currency=purchase.currency,
        gross_amount=request.amount,
        points_issued=-reverse,
        points_redeemed=-give_back,
        points_liability_delta=give_back - reverse,
    )
    _, envelopes = await change.finish(
        context={"purchase_id": str(purchase.id), "refund_id": str(refund_id)}
    )
    paid_share = (  # of the refunded gross, what had been paid (the day's figures count paid)
        refunded * purchase.paid_amount // purchase.amount
        - purchase.refunded_amount * purchase.paid_amount // purchase.amount
    )
    envelopes += await record_store_activity(
        store_id=purchase.store,
        move=DayMove(points_reversed=reverse, refunded_amount=paid_share),
        # The purchase's business day, in its store's calendar: its figures are the ones moved.
        day=clock.business_day(purchase.created_at),
        clock=clock,
        sales=(),
        now=now,
    )
    response = RefundResponse(
        refund_id=refund_id,
        purchase_id=purchase.id,
        amount=request.amount,
        points_reversed=reverse,
        points_returned=give_back,
        refunded_amount=refunded,
        fully_refunded=refunded == purchase.amount,
        balance=change.balance,
    )
    return response, envelopes


async def _take_back_earned(
    change: AccountChange, purchase: Purchase, points: int, cause: Cause
) -> None:
    """From the purchase's own lot while it is pending; otherwise from the balance."""
    if points <= 0:
        return
    lot = (
        await PointLot.select(PointLot.id, PointLot.status, PointLot.remaining)
        .where((PointLot.purchase == purchase.id) & (PointLot.source == "earn"))
        .first()
    )
    if lot is not None and lot["status"] == "pending":
        from_pending = min(points, lot["remaining"])
        await PointLot.update({PointLot.remaining: PointLot.remaining - from_pending}).where(
            PointLot.id == lot["id"]
        )
        change.reverse_pending(from_pending, cause)
        points -= from_pending
    first = lot["id"] if lot is not None and lot["status"] == "available" else None
    await change.reverse_available(points, cause, first_lot=first)
