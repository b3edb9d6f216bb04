"""Refunds: full or partial, repeatable until the purchase is fully refunded; asked by the
store's till, or by an admin or the store's manager (audited).

By amount, earned points follow the money in proportion: cumulative shares are rounded down,
so each refund takes back ``share(total) - already taken`` and a full refund reverses exactly
what the purchase earned. By lines (units of SKUs of the receipt), earned points follow what
those units earned (``backend.sales.lines``), campaigns included. Either way a refund takes
back at most what the purchase earned less what earlier refunds took back, and never less
than nothing (docs/ledger.md, "Refunds by lines"). Redeemed points come back with the money
in proportion, whichever way. If the member already spent the points being taken back, the
balance goes below zero by that reversal alone (and shows it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

import msgspec

from backend.accounting.documents import record_document
from backend.audit.trail import Actor, record
from backend.auth.access import require_admin_or_store_manager
from backend.auth.callers import StaffCaller, TerminalCaller
from backend.errors import (
    NotFound,
    PurchaseHasNoLines,
    RefundAmountMismatch,
    RefundExceedsLines,
    RefundExceedsPurchase,
    RefundLineUnknown,
    ValidationFailed,
)
from backend.http import answers
from backend.idempotency import request_fingerprint, run_once
from backend.local_time import StoreClock
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.earning import share
from backend.loyalty.ledger import lock_account
from backend.loyalty.rules import rules_at
from backend.loyalty.schemas import Balance
from backend.sales.lines import (
    MAX_REFUND_LINES,
    RefundedLine,
    RefundLine,
    capped,
    document_line,
    load_lines,
    load_refunded,
    refund_amount,
    take_back,
)
from backend.sales.schemas import Amount
from backend.stores.figures import DayMove, record_store_activity
from backend.text import Paragraph
from db import sql
from db.ids import new_id
from db.tables import PointLot, Purchase, Refund
from realtime.publisher import EventPublisher, Outgoing


class RefundRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``amount``: the gross value (before loyalty discount) of what is returned; ``lines``:
    the units of the receipt's SKUs that come back (then ``amount`` may be left out: it is
    their value, and if given it must be that). One of the two is required."""

    amount: Amount | None = None
    reason: Annotated[Paragraph, msgspec.Meta(max_length=500)] = ""
    lines: Annotated[list[RefundLine], msgspec.Meta(max_length=MAX_REFUND_LINES)] = []

    def fingerprint(self, purchase_id: uuid.UUID) -> str:
        """What a key's replay must match; by amount only, as before lines existed (a key
        used across the upgrade is still recognised)."""
        body: dict[str, Any] = {"amount": self.amount, "reason": self.reason}
        if self.lines:
            body["lines"] = self.lines
        return request_fingerprint(msgspec.json.encode(["refund", purchase_id, body]))


class RefundResponse(msgspec.Struct, frozen=True):
    refund_id: uuid.UUID
    purchase_id: uuid.UUID
    amount: int
    points_reversed: int
    points_returned: int
    refunded_amount: int
    fully_refunded: bool
    balance: Balance
    lines: list[RefundedLine] = []  # the lines it named, with what each took back


# What a refund may be refused for, besides what every write may be (both its routes).
REFUND_REFUSALS = answers(
    RefundExceedsPurchase,
    RefundLineUnknown,
    RefundExceedsLines,
    PurchaseHasNoLines,
    RefundAmountMismatch,
)
# Raises when the caller may not refund a purchase of this store.
StoreCheck = Callable[[uuid.UUID], None]


class RefundService:
    def __init__(self, *, publisher: EventPublisher) -> None:
        self._publisher = publisher

    async def refund(
        self,
        *,
        caller: TerminalCaller | StaffCaller,
        purchase_id: uuid.UUID,
        request: RefundRequest,
        key: str,
    ) -> tuple[RefundResponse, bool]:
        """At the till, its own store's purchases only (another's is answered as missing);
        by staff, an admin or a manager of the purchase's store, in the audit trail."""
        if isinstance(caller, StaffCaller):
            check: StoreCheck = partial(require_admin_or_store_manager, caller)
            return await self._once(caller.scope, key, purchase_id, request, check, caller)
        till = caller

        def own_store(store_id: uuid.UUID) -> None:
            if store_id != till.store_id:
                raise NotFound(f"purchase {purchase_id} does not exist")

        return await self._once(till.scope, key, purchase_id, request, own_store)

    async def _once(
        self,
        scope: str,
        key: str,
        purchase_id: uuid.UUID,
        request: RefundRequest,
        may_refund: StoreCheck,
        staff: StaffCaller | None = None,
    ) -> tuple[RefundResponse, bool]:
        async def work() -> tuple[RefundResponse, list[Outgoing]]:
            response, envelopes, store_id = await _refund(purchase_id, request, may_refund)
            if staff is not None:
                await record(
                    "purchase.refunded",
                    target_type="purchase",
                    target_id=purchase_id,
                    after={"request": request, "refund": response},
                    store_ids=[store_id],
                    actor=Actor.of(staff),
                )
            return response, envelopes

        return await run_once(
            scope=scope,
            key=key,
            fingerprint=request.fingerprint(purchase_id),
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
    purchase_id: uuid.UUID, request: RefundRequest, may_refund: StoreCheck
) -> tuple[RefundResponse, list[Outgoing], uuid.UUID]:
    rows = await sql.fetch(_LOCK_PURCHASE, id=purchase_id)
    purchase = await Purchase.objects().where(Purchase.id == purchase_id).first() if rows else None
    if purchase is None:
        raise NotFound(f"purchase {purchase_id} does not exist")
    may_refund(purchase.store)
    taken: list[RefundedLine] = []
    refunded_lines = load_refunded(purchase.refunded_lines)
    if request.lines:
        taken, refunded_lines = take_back(load_lines(purchase.lines), refunded_lines, request.lines)
        amount = refund_amount(request.amount, taken)
    elif request.amount is None:
        raise ValidationFailed("a refund needs an amount or lines")
    else:
        amount = request.amount
    left = purchase.amount - purchase.refunded_amount
    if amount > left:
        raise RefundExceedsPurchase(
            f"{left} of this purchase is left to refund", refundable_amount=left
        )
    refunded = purchase.refunded_amount + amount
    if taken:
        wanted = sum(line.points_reversed for line in taken)
    else:
        wanted = share(purchase.points_earned, refunded, purchase.amount) - purchase.points_reversed
    # Never more than is left of what the purchase earned, never less than nothing: an
    # amount-only refund after a line refund that took more than money's share reverses 0.
    reverse = max(0, min(wanted, purchase.points_earned - purchase.points_reversed))
    taken = capped(taken, reverse)
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
        amount=amount,
        points_reversed=reverse,
        points_returned=give_back,
        reason=request.reason,
        lines=msgspec.json.encode(taken).decode(),
        created_at=now,
    ).save()
    values: dict[Any, Any] = {
        Purchase.refunded_amount: refunded,
        Purchase.points_reversed: purchase.points_reversed + reverse,
        Purchase.points_returned: purchase.points_returned + give_back,
        Purchase.refunded_lines: msgspec.json.encode(refunded_lines).decode(),
    }
    await Purchase.update(values).where(Purchase.id == purchase.id)
    await record_document(
        type="refund",
        reference=refund_id,
        occurred_at=now,
        business_date=clock.business_day(now),  # booked on the day the money went back
        store_id=purchase.store,
        currency=purchase.currency,
        gross_amount=amount,
        points_issued=-reverse,
        points_redeemed=-give_back,
        points_liability_delta=give_back - reverse,
        lines=[document_line(line) for line in taken],
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
        amount=amount,
        points_reversed=reverse,
        points_returned=give_back,
        refunded_amount=refunded,
        fully_refunded=refunded == purchase.amount,
        balance=change.balance,
        lines=taken,
    )
    return response, envelopes, purchase.store


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
