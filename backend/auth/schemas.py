"""API shapes of login and tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from backend.text import Email

Phone = Annotated[
    str,
    msgspec.Meta(pattern=r"^\+[1-9][0-9]{7,14}$", examples=["+79990001122"], description="E.164"),
]


class OtpRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    phone: Phone


class OtpAccepted(msgspec.Struct, frozen=True):
    expires_in: int


class TokenRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    phone: Phone
    code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")]


class StaffLogin(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class RefreshRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class TokenResponse(msgspec.Struct, frozen=True, omit_defaults=True):
    """``member_id`` for a member's session, ``staff_id`` and ``role`` for staff."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    member_id: uuid.UUID | None = None
    staff_id: uuid.UUID | None = None
    role: str | None = None


class SessionOut(msgspec.Struct, frozen=True):
    session_id: str
    device: str
    created_at: datetime
    last_used_at: datetime
    current: bool


class SessionList(msgspec.Struct, frozen=True):
    items: list[SessionOut]
