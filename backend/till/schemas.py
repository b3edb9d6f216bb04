"""API shapes of the till's requests."""

from __future__ import annotations

from typing import Annotated

import msgspec

from backend.sales.schemas import (
    MAX_MINOR_UNITS,
    Amount,
    Currency,
    Customer,
    ExternalId,
    PurchaseItem,
)


class SaleRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a till says about a sale: who, which receipt, how much, which lines."""

    customer: Customer
    external_id: ExternalId
    amount: Amount
    currency: Currency = "RUB"
    items: Annotated[list[PurchaseItem], msgspec.Meta(max_length=500)] = msgspec.field(
        default_factory=list
    )


CouponCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{8,16}$")]


class PurchaseRequest(SaleRequest, frozen=True, forbid_unknown_fields=True):
    redeem_points: Annotated[int, msgspec.Meta(ge=0, le=MAX_MINOR_UNITS)] = 0
    # The member's coupons (rewards, stamp cards) to use: each takes one item off the check.
    coupons: Annotated[list[CouponCode], msgspec.Meta(max_length=5)] = msgspec.field(
        default_factory=list
    )
