"""API shapes of stores and terminals."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec

from backend.local_time import DayStartHour, ZoneName
from backend.text import FilledLine

Name = Annotated[FilledLine, msgspec.Meta(min_length=1, max_length=200)]
MaxSaleAmount = Annotated[
    int,
    msgspec.Meta(
        gt=0,
        le=10**15,
        description="the largest amount of one sale, minor units (null: the program's maximum)",
    ),
]


class StoreCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$", examples=["MSK-01"])]
    name: Name
    # The store's clock: campaign hours, "today" and business dates are in this zone.
    time_zone: ZoneName
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] = "RUB"
    day_starts_at: DayStartHour = 0
    max_sale_amount: MaxSaleAmount | None = None


class StoreUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What an admin may change of an open store; absent fields stay as they are (but a
    ``max_sale_amount`` of null returns the store to the program's maximum)."""

    name: Name | None = None
    time_zone: ZoneName | None = None
    day_starts_at: DayStartHour | None = None
    max_sale_amount: MaxSaleAmount | msgspec.UnsetType | None = msgspec.UNSET


class StoreOut(msgspec.Struct, frozen=True):
    id: uuid.UUID
    code: str
    name: str
    currency: str
    time_zone: str  # IANA zone; local fields of this store's figures are in it
    day_starts_at: int  # local hour its business day starts
    max_sale_amount: int | None  # the store's own maximum for one sale; None: the program's
    created_at: datetime


class StoreList(msgspec.Struct, frozen=True):
    items: list[StoreOut]


class TerminalCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name


class TerminalOut(msgspec.Struct, frozen=True):
    id: uuid.UUID
    store_id: uuid.UUID
    name: str
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None


class NewTerminal(msgspec.Struct, frozen=True):
    """The only time the key is shown: store it in the till now."""

    terminal: TerminalOut
    api_key: str


class TerminalList(msgspec.Struct, frozen=True):
    items: list[TerminalOut]


class StoreFigures(msgspec.Struct, frozen=True):
    """A store's figures for one business day (also the data of ``stats.updated``)."""

    store_id: uuid.UUID
    day: Annotated[
        date,
        msgspec.Meta(
            description="the store's business day: a date in its local calendar (`time_zone`), "
            "starting at its `day_starts_at` hour"
        ),
    ]
    time_zone: Annotated[
        str, msgspec.Meta(description="the IANA zone of the store, whose calendar `day` is in")
    ]
    sales: int
    sales_amount: int  # paid, minor units
    points_earned: int
    points_redeemed: int
    points_reversed: int
    refunded_amount: int
    active_members: int
    new_members: int
