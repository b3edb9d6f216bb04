"""API shapes of the member's own data."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec


class Balance(msgspec.Struct, frozen=True):
    available: int
    pending: int
    held: int


class TierProgress(msgspec.Struct, frozen=True):
    next_tier: str | None
    points_to_next_tier: int


class MeResponse(msgspec.Struct, frozen=True):
    member_id: uuid.UUID
    phone: str
    card_number: str
    tier: str
    balance: Balance
    progress: TierProgress
    last_event_seq: int
    enrolled_at: datetime


class QrTokenResponse(msgspec.Struct, frozen=True):
    qr_token: str
    expires_in: int
