"""Accounting documents: what the sales-accounting system books for each money or points
movement, written to the outbox inside the transaction that made the movement.

Every movement of the points liability (points owed to members: available, pending and
held) has a document, so the liability the accounting system books for a day equals the
sum of that day's ledger entries; ``backend.accounting.reconciliation`` checks exactly that.

A document's business date is a local calendar date: the business day of the store where the
movement happened (``StoreClock.business_day``: sales, refunds), or, for a movement no store
made (adjustments, expiry, rewards, welcome bonuses), the date in the program's zone
(``ASTROCOFFEE_PROGRAM_TIME_ZONE``, see ``program_day``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from backend.local_time import local_date, zone
from backend.settings import Settings
from db.deferred import DeferredWrites, write
from db.ids import new_id

ACCOUNTING = "accounting"

_INSERT = """
INSERT INTO outbox_message (id, destination, kind, reference, business_date, payload, status,
                            attempts, next_attempt_at, created_at)
VALUES ({id}, {destination}, {kind}, {reference}, {business_date}, {payload}::jsonb, 'pending',
        0, {occurred_at}, {occurred_at})
"""


class _ProgramCalendar:
    """The program's zone, set once from the settings when the service or a command starts
    (``use_program_zone``). Store-less movements happen deep inside enrolment, rewards and
    the expiry job, which have no settings at hand; a process serves one program, so its zone
    is process-wide, like the settings it comes from."""

    zone: ZoneInfo = zone(Settings().program_time_zone)  # until told: the default


def use_program_zone(name: str) -> None:
    """Date store-less documents in ``name`` (a zone the settings already checked)."""
    _ProgramCalendar.zone = zone(name)


def program_zone() -> ZoneInfo:
    return _ProgramCalendar.zone


def program_day(at: datetime) -> date:
    """The business date of a movement no store made: its date in the program's zone."""
    return local_date(at, _ProgramCalendar.zone)


DocumentType = Literal[
    "sale",
    "refund",
    "points_expiry",
    "points_adjustment",
    "points_redemption",
    "points_forfeiture",  # an erased member's points (the reference is the member)
]


class DocumentLine(msgspec.Struct, frozen=True):
    """A line of a sale or refund document: the units sold (or returned) of a SKU, their
    gross money and the points they earned (or that were taken back)."""

    sku: str
    name: str
    category: str
    quantity: int
    amount: int
    points: int


class AccountingDocument(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Amounts in minor units of ``currency``; points in points.

    ``points_liability_delta`` = ``points_issued`` - ``points_redeemed`` - points expired.
    ``lines``: a sale's items, or the lines a refund named; absent from the document when
    there are none (a sale or refund by amount only, and every other movement).
    """

    id: uuid.UUID  # the outbox message id, also the Idempotency-Key of the delivery
    type: DocumentType
    business_date: date  # local: the store's business day, or the program zone's date
    reference: str  # the purchase, refund, account ... that the document reports
    store_id: uuid.UUID | None
    currency: str | None
    gross_amount: int  # check total (refund: the amount paid back)
    loyalty_discount: int  # paid with points
    net_amount: int  # paid (or paid back) in money
    points_issued: int
    points_redeemed: int
    points_liability_delta: int
    occurred_at: datetime
    lines: tuple[DocumentLine, ...] = ()


async def record_document(
    *,
    type: DocumentType,
    reference: uuid.UUID,
    occurred_at: datetime,
    business_date: date,
    points_liability_delta: int,
    store_id: uuid.UUID | None = None,
    currency: str | None = None,
    gross_amount: int = 0,
    loyalty_discount: int = 0,
    points_issued: int = 0,
    points_redeemed: int = 0,
    lines: Sequence[DocumentLine] = (),
    into: DeferredWrites | None = None,
) -> AccountingDocument:
    """Write the document to the outbox; call inside the movement's own transaction (with
    ``into``, the write goes with that transaction's last statement).

    ``business_date``: the store's business day of ``occurred_at`` (``StoreClock``) when a
    store made the movement, otherwise ``program_day(occurred_at)``."""
    document = AccountingDocument(
        id=new_id(),
        type=type,
        business_date=business_date,
        reference=str(reference),
        store_id=store_id,
        currency=currency,
        gross_amount=gross_amount,
        loyalty_discount=loyalty_discount,
        net_amount=gross_amount - loyalty_discount,
        points_issued=points_issued,
        points_redeemed=points_redeemed,
        points_liability_delta=points_liability_delta,
        occurred_at=occurred_at,
        lines=tuple(lines),
    )
    await write(
        _INSERT,
        into,
        id=document.id,
        destination=ACCOUNTING,
        kind=type,
        reference=document.reference,
        business_date=document.business_date,
        payload=msgspec.json.encode(document).decode(),
        occurred_at=occurred_at,
    )
    return document
