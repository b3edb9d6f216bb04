"""API shapes of a member's rights over their data: erasure and export."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from backend.loyalty.schemas import Balance
from backend.members.schemas import ConsentChange, ConsentState
from backend.text import FilledParagraph


class ErasureConfirmation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The one-time code texted by ``POST /v1/me/erasure/code``."""

    code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")]


class ErasureOnRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Staff's erasure: the written request it answers (its reference, who asked, how)."""

    reason: Annotated[FilledParagraph, msgspec.Meta(min_length=3, max_length=500)]


class ErasureResult(msgspec.Struct, frozen=True):
    member_id: uuid.UUID
    source: Literal["member", "staff"]
    requested_at: datetime
    points_forfeited: int
    completed_at: datetime | None  # null: sessions or late points are still being cleared


class ExportedProfile(msgspec.Struct, frozen=True):
    member_id: uuid.UUID
    phone: str
    card_number: str
    tier: str
    birth_date: date | None
    time_zone: str | None
    enrolled_at: datetime
    balance: Balance
    lifetime_earned: int
    blocked_card_numbers: list[str]


class ExportedConsents(msgspec.Struct, frozen=True):
    channels: list[ConsentState]
    history: list[ConsentChange]  # all of it, newest first


class ExportedSession(msgspec.Struct, frozen=True):
    """A signed-in device (never its tokens)."""

    session_id: str
    device: str
    created_at: datetime
    last_used_at: datetime


class MemberExport(msgspec.Struct, frozen=True):
    """Everything kept about one member, as one document (152-FZ art. 14, GDPR art. 15/20).

    The tables' rows are given as they are kept (ids, amounts in minor units, points)."""

    exported_at: datetime
    profile: ExportedProfile
    consents: ExportedConsents
    sessions: list[ExportedSession]
    ledger: list[dict[str, Any]]
    point_lots: list[dict[str, Any]]
    purchases: list[dict[str, Any]]
    refunds: list[dict[str, Any]]
    checkouts: list[dict[str, Any]]  # with the check's items
    orders: list[dict[str, Any]]  # app orders, with their items
    offers: list[dict[str, Any]]
    stats: dict[str, Any] | None  # visits, favourite categories, stamps
    push_devices: list[dict[str, Any]]  # provider and dates, never the token
    notification_settings: dict[str, Any] | None  # kinds turned off, language
