"""API shapes of two-phase checkouts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from backend.campaigns.schemas import AppliedOffer
from backend.loyalty.schemas import Balance
from backend.sales.schemas import MAX_MINOR_UNITS, PurchaseResponse
from backend.text import Line
from backend.till.schemas import SaleRequest


class CheckoutRequest(SaleRequest, frozen=True, forbid_unknown_fields=True):
    """Opens a checkout: the same as a one-shot sale, without the points, which are held
    separately."""


class HoldRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    points: Annotated[int, msgspec.Meta(ge=0, le=MAX_MINOR_UNITS)]


class CompleteRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    payment_ref: Annotated[Line, msgspec.Meta(min_length=1, max_length=100)]
    paid_amount: Annotated[int, msgspec.Meta(ge=0, le=MAX_MINOR_UNITS)]


class CheckoutResponse(msgspec.Struct, frozen=True):
    checkout_id: uuid.UUID
    member_id: uuid.UUID
    status: str
    amount: int
    currency: str
    max_redeemable_points: int
    points_to_earn: int
    held_points: int
    hold_expires_at: datetime | None
    offers: list[AppliedOffer]  # campaigns that would apply (or applied, once completed)
    balance: Balance
    purchase: PurchaseResponse | None = None
