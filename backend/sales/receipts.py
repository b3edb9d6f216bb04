"""A purchase as staff see it: the receipt's lines with the points each earned and the units
refunded, and the refunds made of it. Admins, and managers of the purchase's store."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from backend.auth.access import require_admin_or_store_manager
from backend.auth.callers import StaffCaller
from backend.errors import NotFound
from backend.sales.lines import (
    RefundedLine,
    SoldLine,
    load_lines,
    load_refunded,
    refunded_per_line,
)
from db import sql
from db.tables import Purchase, Refund


class ReceiptLine(SoldLine, frozen=True):
    refunded_quantity: int


class RefundOut(msgspec.Struct, frozen=True):
    refund_id: uuid.UUID
    amount: int
    points_reversed: int
    created_at: datetime
    lines: list[RefundedLine]


class PurchaseOut(msgspec.Struct, frozen=True):
    purchase_id: uuid.UUID
    member_id: uuid.UUID
    store_id: uuid.UUID
    external_id: str
    created_at: datetime
    amount: int
    paid_amount: int
    points_earned: int
    points_redeemed: int
    refunded_amount: int
    lines: list[ReceiptLine]  # [] for a sale by amount only
    refunds: list[RefundOut]  # oldest first


async def purchase_for(caller: StaffCaller, purchase_id: uuid.UUID) -> PurchaseOut:
    purchase = await Purchase.objects().where(Purchase.id == purchase_id).first()
    if purchase is None:
        raise NotFound(f"purchase {purchase_id} does not exist")
    require_admin_or_store_manager(caller, purchase.store)
    refunds = (
        await Refund.select(
            Refund.id, Refund.amount, Refund.points_reversed, Refund.created_at, Refund.lines
        )
        .where(Refund.purchase == purchase_id)
        .order_by(Refund.created_at)
        .order_by(Refund.id)
    )
    lines = load_lines(purchase.lines)
    refunded = refunded_per_line(lines, load_refunded(purchase.refunded_lines))
    return PurchaseOut(
        purchase_id=purchase.id,
        member_id=purchase.member,
        store_id=purchase.store,
        external_id=purchase.external_id,
        created_at=purchase.created_at,
        amount=purchase.amount,
        paid_amount=purchase.paid_amount,
        points_earned=purchase.points_earned,
        points_redeemed=purchase.points_redeemed,
        refunded_amount=purchase.refunded_amount,
        lines=[
            ReceiptLine(**msgspec.structs.asdict(line), refunded_quantity=units)
            for line, units in zip(lines, refunded, strict=True)
        ],
        refunds=[
            RefundOut(
                refund_id=row["id"],
                amount=row["amount"],
                points_reversed=row["points_reversed"],
                created_at=row["created_at"],
                lines=msgspec.convert(sql.loaded_json(row["lines"]) or [], list[RefundedLine]),
            )
            for row in refunds
        ],
    )
