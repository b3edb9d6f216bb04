"""API shapes of staff users."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

Email = Annotated[
    str, msgspec.Meta(pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$", max_length=254)
]
Password = Annotated[str, msgspec.Meta(min_length=12, max_length=256)]
StaffRole = Literal["barista", "manager", "admin"]


class StaffLogin(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class StaffCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
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
