"""API shapes of the member's own data."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from backend.campaigns.schemas import StampCardProgress
from backend.local_time import ZoneName
from backend.loyalty.schemas import Balance


class TierProgress(msgspec.Struct, frozen=True):
    """Qualifying spend (minor units, net of refunds) over the rolling window."""

    qualifying_spend: int
    next_tier: str | None
    spend_to_next_tier: int


class ExpiringPoints(msgspec.Struct, frozen=True):
    """Points that expire within ``within_days``, and when the first of them do."""

    points: int
    first_expires_at: datetime | None
    within_days: int


class MeResponse(msgspec.Struct, frozen=True):
    member_id: uuid.UUID
    phone: str
    card_number: str
    tier: str
    balance: Balance
    progress: TierProgress
    expiring_soon: ExpiringPoints
    last_event_seq: int
    enrolled_at: datetime
    birth_date: date | None = None
    # IANA zone the member's local times (birthday, limits per day, the page) are in: their
    # own, else that of the store of their first sale, else the program's.
    time_zone: str = ""
    stamp_cards: list[StampCardProgress] = msgspec.field(default_factory=list)


class ProfileUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a member may change; absent fields stay as they are. The birth date can be set
    once (staff correct it afterwards): a birthday treat must not be claimable at will."""

    birth_date: date | msgspec.UnsetType | None = msgspec.UNSET
    time_zone: ZoneName | msgspec.UnsetType = msgspec.UNSET


class BirthDateCorrection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Staff's correction of a member's birth date (null removes it)."""

    birth_date: date | None


class QrTokenResponse(msgspec.Struct, frozen=True):
    qr_token: str
    expires_in: int


class Transaction(msgspec.Struct, frozen=True):
    id: uuid.UUID
    kind: str
    points: int
    available_delta: int
    pending_delta: int
    held_delta: int
    cause_type: str
    cause_id: uuid.UUID | None
    note: str
    created_at: datetime


class TransactionPage(msgspec.Struct, frozen=True):
    items: list[Transaction]
    next_cursor: str | None


class MemberSummary(msgspec.Struct, frozen=True):
    member_id: uuid.UUID
    phone: str
    card_number: str
    tier: str
    balance: Balance
    # Marketing consent per channel (the staff view shows it; MemberSummary of a look-up too).
    consents: list[ConsentState] = msgspec.field(default_factory=list)


class CardReplacement(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The card being blocked, as printed: a retry after the first replacement (which
    changed the number) is refused rather than blocking the new card as well."""

    card_number: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{16}$")]


class CardReplaced(msgspec.Struct, frozen=True):
    member_id: uuid.UUID
    card_number: str
    blocked_card_number: str
    replaced_at: datetime


Channel = Literal["push", "sms", "email"]


class ConsentState(msgspec.Struct, frozen=True):
    """Whether marketing may be sent on ``channel``; ``at`` and ``source`` of the last change
    (none: never asked, which is no)."""

    channel: Channel
    given: bool
    at: datetime | None
    source: str | None


class ConsentChange(msgspec.Struct, frozen=True):
    channel: Channel
    given: bool
    at: datetime
    source: str
    staff_id: uuid.UUID | None


class Consents(msgspec.Struct, frozen=True):
    channels: list[ConsentState]
    history: list[ConsentChange]  # newest first


class ConsentUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Consent given (true) or withdrawn (false) per channel; absent channels stay as they
    are."""

    push: bool | msgspec.UnsetType = msgspec.UNSET
    sms: bool | msgspec.UnsetType = msgspec.UNSET
    email: bool | msgspec.UnsetType = msgspec.UNSET
