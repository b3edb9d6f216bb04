"""API shapes of staff users."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from backend.text import FilledLine, Line

# No spaces, control or bidirectional formatting characters (backend.text) in an address.
_ADDRESS = r"[^@\s\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+"
Email = Annotated[
    str, msgspec.Meta(pattern=rf"^{_ADDRESS}@{_ADDRESS}\.{_ADDRESS}$", max_length=254)
]
# New passwords; a login compares whatever it is given (StaffLogin). The CLI's help and the
# README state this rule.
PASSWORD_MIN_LENGTH = 12
Password = Annotated[Line, msgspec.Meta(min_length=PASSWORD_MIN_LENGTH, max_length=256)]
StaffRole = Literal["barista", "manager", "admin"]


class StaffLogin(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


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
    created_at: datetime


class StaffPage(msgspec.Struct, frozen=True):
    items: list[StaffOut]
    next_cursor: str | None
