"""API shapes of app orders."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from backend.loyalty.schemas import Balance
from backend.sales.schemas import Amount, Currency, PurchaseItem

OrderStatus = Literal["awaiting_payment", "paid", "failed"]


class OrderRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    store_id: uuid.UUID
    amount: Amount
    currency: Currency = "RUB"
    items: Annotated[list[PurchaseItem], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    redeem_points: Annotated[int, msgspec.Meta(ge=0, le=10**9)] = 0


class OrderOut(msgspec.Struct, frozen=True):
    order_id: uuid.UUID
    status: OrderStatus
    store_id: uuid.UUID
    amount: int
    currency: str
    points_redeemed: int  # held while awaiting payment, spent once paid, given back if not
    payable_amount: int  # what the provider charges: amount less the points' discount
    payment_id: str | None
    purchase_id: uuid.UUID | None  # the sale, once paid (points earned there)
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    balance: Balance | None = None
