"""The bodies partners receive, as types: what the OpenAPI document's ``webhooks`` describe
(``backend.partners.document``) and what the tests decode every delivered body as.

Every body is ``{"type", "timestamp", "data"}`` (Standard Webhooks); ``data`` is the member
stream's event (ids, amounts, points) with ``member_id`` and the event's ``seq`` in the
member's stream, and ``member`` (personal data) only for endpoints allowed it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec


class PersonalData(msgspec.Struct, frozen=True):
    """Sent only to endpoints registered with ``personal_data_allowed`` (docs/security.md)."""

    phone: str
    card_number: str
    birth_date: str | None
    time_zone: str | None


class _MemberEvent(msgspec.Struct, frozen=True, kw_only=True):
    member_id: uuid.UUID
    seq: int  # the event's place in the member's stream: deliveries come in this order
    member: PersonalData | msgspec.UnsetType = msgspec.UNSET


class SaleData(_MemberEvent, frozen=True, kw_only=True):
    """The member's balance after a sale."""

    purchase_id: uuid.UUID
    store_id: uuid.UUID
    paid_amount: int  # minor units
    currency: str
    available: int
    pending: int
    held: int


class RefundData(_MemberEvent, frozen=True, kw_only=True):
    """The member's balance after a refund."""

    purchase_id: uuid.UUID
    refund_id: uuid.UUID
    available: int
    pending: int
    held: int


class PointsData(_MemberEvent, frozen=True, kw_only=True):
    """One ledger entry: earned (pending until released), redeemed or expired points."""

    entry_id: uuid.UUID
    kind: str  # earn, bonus, redeem, expiry
    points: int  # signed: what the entry moved
    available_delta: int
    pending_delta: int
    held_delta: int
    cause_type: str  # purchase, campaign, expiry, ...
    cause_id: uuid.UUID | None
    purchase_id: uuid.UUID | msgspec.UnsetType = msgspec.UNSET
    store_id: uuid.UUID | msgspec.UnsetType = msgspec.UNSET
    paid_amount: int | msgspec.UnsetType = msgspec.UNSET
    currency: str | msgspec.UnsetType = msgspec.UNSET
    campaign_id: uuid.UUID | msgspec.UnsetType = msgspec.UNSET
    reason: str | msgspec.UnsetType = msgspec.UNSET  # expiry, release, welcome, erasure


class TierData(_MemberEvent, frozen=True, kw_only=True):
    from_tier: str = msgspec.field(name="from")
    to: str
    purchase_id: uuid.UUID | msgspec.UnsetType = msgspec.UNSET
    store_id: uuid.UUID | msgspec.UnsetType = msgspec.UNSET
    paid_amount: int | msgspec.UnsetType = msgspec.UNSET
    currency: str | msgspec.UnsetType = msgspec.UNSET


class OfferData(_MemberEvent, frozen=True, kw_only=True):
    """An offer made live for the member: a campaign's, a welcome offer, a bought coupon."""

    name: str
    campaign_id: uuid.UUID | msgspec.UnsetType = msgspec.UNSET
    kind: str | msgspec.UnsetType = msgspec.UNSET
    coupon_code: str | msgspec.UnsetType | None = msgspec.UNSET
    valid_until: str | msgspec.UnsetType | None = msgspec.UNSET
    requires_activation: bool | msgspec.UnsetType = msgspec.UNSET
    ends_at: str | msgspec.UnsetType | None = msgspec.UNSET
    reason: str | msgspec.UnsetType = msgspec.UNSET


class ErasedData(_MemberEvent, frozen=True, kw_only=True):
    """The member's personal data was erased (their money records stay, by id)."""

    erasure_id: uuid.UUID


class EnrolledData(_MemberEvent, frozen=True, kw_only=True):
    """The member enrolled (``seq`` 0: before any event of their stream); who they are is
    ``member``, for endpoints allowed personal data."""


class ExpiringData(_MemberEvent, frozen=True, kw_only=True):
    """``points`` of the member's lots expire on ``expires_on`` (their local date); ``seq``:
    sent after the member's events up to it."""

    points: int
    expires_on: str  # YYYY-MM-DD


# Event type -> the data its body carries.
DATA: dict[str, type[_MemberEvent]] = {
    "sale.completed": SaleData,
    "refund.completed": RefundData,
    "points.earned": PointsData,
    "points.redeemed": PointsData,
    "points.expired": PointsData,
    "tier.changed": TierData,
    "offer.activated": OfferData,
    "member.erased": ErasedData,
    "member.enrolled": EnrolledData,
    "points.expiring": ExpiringData,
}


def _body(event_type: str, data: type[_MemberEvent]) -> type[msgspec.Struct]:
    """``{"type": <event_type>, "timestamp", "data": <data>}``, named after the event type
    (``sale.completed``: ``SaleCompleted``) in the OpenAPI document."""
    name = "".join(part.title() for part in event_type.split("."))
    fields = [("type", Literal[event_type]), ("timestamp", datetime), ("data", data)]
    return msgspec.defstruct(name, fields, frozen=True, module=__name__)


# Event type -> its body's type.
BODIES: dict[str, type[msgspec.Struct]] = {name: _body(name, data) for name, data in DATA.items()}
