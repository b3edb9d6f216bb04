"""API shapes of staff users."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from backend.text import Email, FilledLine, Line

# New passwords; a login compares whatever it is given (backend.auth.schemas.StaffLogin).
# The CLI's help and the README state this rule.
PASSWORD_MIN_LENGTH = 12
PASSWORD_RULE = f"at least {PASSWORD_MIN_LENGTH} characters, on one line"
Password = Annotated[Line, msgspec.Meta(min_length=PASSWORD_MIN_LENGTH, max_length=256)]
StaffRole = Literal["barista", "manager", "admin"]


class StaffCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    name: Annotated[FilledLine, msgspec.Meta(min_length=1, max_length=200)]
    password: Password
    role: StaffRole
    store_ids: list[uuid.UUID] = msgspec.field(default_factory=list)


class StaffUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    role: StaffRole | None = None
    store_ids: list[uuid.UUID] | None = None
    active: bool | None = None
    password: Password | None = None


class StaffOut(msgspec.Struct, frozen=True):
    id: uuid.UUID
    email: str
    name: str
    role: StaffRole
    store_ids: list[uuid.UUID]
    active: bool
    # Set while logins are refused after repeated failures (POST .../unlock ends it).
    locked_until: datetime | None
    created_at: datetime


class StaffPage(msgspec.Struct, frozen=True):
    items: list[StaffOut]
    next_cursor: str | None
