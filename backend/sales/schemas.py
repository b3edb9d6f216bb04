"""API shapes of a sale: money, the customer, the check's lines, what the sale did."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec

from backend.campaigns.schemas import AppliedOffer
from backend.loyalty.schemas import Balance
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
