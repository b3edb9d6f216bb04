"""API shapes of purchases."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec

from backend.members.schemas import Balance
from backend.text import Line

MAX_MINOR_UNITS = 10**12  # ten billion rubles: far beyond any coffee order, far below int64.

Amount = Annotated[int, msgspec.Meta(gt=0, le=MAX_MINOR_UNITS)]
NonNegativeAmount = Annotated[int, msgspec.Meta(ge=0, le=MAX_MINOR_UNITS)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", examples=["RUB"])]
Text = Annotated[Line, msgspec.Meta(min_length=1, max_length=200)]


ExternalId = Annotated[Line, msgspec.Meta(min_length=1, max_length=100)]


class Customer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Exactly one of ``card_number`` and ``qr_token``."""

    card_number: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{16}$")] | None = None
    qr_token: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


class PurchaseItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sku: Text
    name: Text
    category: Text
    quantity: Annotated[int, msgspec.Meta(gt=0, le=10_000)]
    unit_price: NonNegativeAmount


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


class PurchaseResponse(msgspec.Struct, frozen=True):
    purchase_id: uuid.UUID
    member_id: uuid.UUID
    external_id: str
    amount: int
    paid_amount: int
    currency: str
    points_redeemed: int
    points_earned: int
    offers_applied: list[AppliedOffer]
    balance: Balance


class AppliedOffer(msgspec.Struct, frozen=True):
    """A campaign or coupon that changed this sale: points added, or money off."""

    campaign_id: uuid.UUID
    name: str
    kind: str
    points: int = 0
    discount: int = 0
    stamps: int = 0
