"""A checkout's row as the till's steps read, check, change and write it, and the statements
that read it: each step's one read of the key's stored answer with what it checks, the
checkout locked and then (lock order: checkout, account) its member's account; the key's
answer kept; the step's writes sent in one statement (``backend.till.checkouts``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from typing import Any

import msgspec

from backend.auth.callers import TerminalCaller
from backend.errors import CheckoutNotOpen, MemberNotFound, NotFound
from backend.idempotency import (
    StoredResponse,
    lock_key,
    remember,
    request_fingerprint,
    stored_outcome,
)
from backend.loyalty.ledger import LockedAccount
from backend.loyalty.lots import TakenLots
from backend.loyalty.schemas import Balance
from backend.sales.sale import BUYER_COLUMNS
from backend.sales.schemas import PurchaseItem
from backend.till.checkout_schemas import CheckoutResponse
from db import sql
from db.deferred import DeferredWrites, write


@dataclass(slots=True)
class CheckoutRow:
    """A checkout row, as the steps read and change it."""

    id: uuid.UUID
    store: uuid.UUID
    terminal: uuid.UUID
    member: uuid.UUID
    external_id: str
    amount: int
    currency: str
    items: Any  # JSON: the check's lines
    rules_version: int
    status: str
    hold_points: int
    hold_lots: Any  # JSON: [[lot id, points], ...]
    hold_expires_at: datetime | None
    purchase: uuid.UUID | None


_FIELDS = tuple(field.name for field in fields(CheckoutRow))  # the row's columns, by name
_JSON_FIELDS = frozenset({"items", "hold_lots"})  # JSON columns: text to and from the driver


def checkout_from(row: Mapping[str, Any]) -> CheckoutRow:
    return CheckoutRow(
        **{
            name: sql.loaded_json(row[name]) if name in _JSON_FIELDS else row[name]
            for name in _FIELDS
        }
    )


def insert(checkout: CheckoutRow, now: datetime, *, into: DeferredWrites) -> None:
    """The new checkout's row, with ``into`` (the open step's one statement)."""
    values = {name: getattr(checkout, name) for name in _FIELDS}
    for name in _JSON_FIELDS:
        values[name] = msgspec.json.encode(values[name]).decode()
    into.add(_INSERT, now=now, **values)


# What opening a checkout checks, in one round trip after the key's lock: the key's stored
# answer, the store's currency and maximum sale, a sale or checkout with this receipt, and
# the card's holder with their account locked (the checkout row is new: nothing to lock first).
OPEN_CHECKS = """
SELECT k.request_hash AS key_hash, k.response_status AS key_status, k.response_body AS key_body,
       s.currency, s.max_sale_amount,
       EXISTS (SELECT 1 FROM purchase WHERE store = {store_id} AND external_id = {external_id})
         AS sold,
       EXISTS (SELECT 1 FROM checkout WHERE store = {store_id} AND external_id = {external_id})
         AS opened,
       m.id AS card_holder, buyer.*
FROM (SELECT 1) AS one
LEFT JOIN idempotency_record k ON k.scope = {scope} AND k.key = {key}
LEFT JOIN store s ON s.id = {store_id}
LEFT JOIN member m ON k.id IS NULL AND m.card_number = {card_number}
LEFT JOIN LATERAL (
    SELECT a.id AS account_id, a.available, a.pending, a.held, m.tier
    FROM account a WHERE a.member = m.id
    FOR UPDATE OF a
) AS buyer ON true
"""

# A step on a checkout (hold, cancel), in one round trip after the key's lock: the key's
# stored answer; else the checkout locked, then (lock order: checkout, account) its member's
# account when the checkout is this store's and in a status the step allows.
LOCK_CHECKOUT = """
WITH c AS (
    SELECT * FROM checkout
    WHERE id = {checkout_id}
      AND NOT EXISTS (SELECT 1 FROM idempotency_record WHERE scope = {scope} AND key = {key})
    FOR UPDATE
)
SELECT k.request_hash AS key_hash, k.response_status AS key_status, k.response_body AS key_body,
       c.id, c.store, c.terminal, c.member, c.external_id, c.amount, c.currency, c.items,
       c.rules_version, c.status, c.hold_points, c.hold_lots, c.hold_expires_at, c.purchase,
       buyer.*
FROM (SELECT 1) AS one
LEFT JOIN idempotency_record k ON k.scope = {scope} AND k.key = {key}
LEFT JOIN c ON true
LEFT JOIN LATERAL (
"""
LOCK_ACCOUNT = f"""{LOCK_CHECKOUT}
    SELECT a.id AS account_id, a.available, a.pending, a.held, m.tier
    FROM account a JOIN member m ON m.id = a.member
    WHERE a.member = c.member AND c.store = {{store_id}} AND c.status = ANY({{allowed}}::text[])
    FOR UPDATE OF a
) AS buyer ON true
"""  # noqa: S608 (the fixed LOCK_CHECKOUT, bound values)
# Completing: the account with what the sale knows of its buyer (``BUYER_COLUMNS``).
LOCK_BUYER = f"""{LOCK_CHECKOUT}
    SELECT {BUYER_COLUMNS}, st.time_zone AS store_zone, st.day_starts_at
    FROM account a JOIN member m ON m.id = a.member
    LEFT JOIN member_stats s ON s.member = a.member
    LEFT JOIN store st ON st.id = c.store
    WHERE a.member = c.member AND c.store = {{store_id}} AND c.status = ANY({{allowed}}::text[])
    FOR UPDATE OF a
) AS buyer ON true
"""  # noqa: S608 (the fixed LOCK_CHECKOUT and BUYER_COLUMNS, bound values)

_INSERT = """
INSERT INTO checkout (id, store, terminal, member, external_id, amount, currency, items,
                      rules_version, status, hold_points, hold_lots, hold_expires_at,
                      purchase, created_at, updated_at)
VALUES ({id}, {store}, {terminal}, {member}, {external_id}, {amount}, {currency},
        {items}::jsonb, {rules_version}, {status}, {hold_points}, {hold_lots}::jsonb,
        {hold_expires_at}, {purchase}, {now}, {now})
"""


def step_fingerprint(request: Any) -> str:
    return request_fingerprint(msgspec.json.encode(request))


def stored_answer(row: Mapping[str, Any], fingerprint: str) -> CheckoutResponse | None:
    """The key's stored answer, read with the step's checks (422 for another request)."""
    stored = stored_outcome(
        request_hash=row["key_hash"],
        status=row["key_status"],
        body=sql.loaded_json(row["key_body"]),
        fingerprint=fingerprint,
    )
    return None if stored is None else msgspec.convert(stored.body, CheckoutResponse)


async def remember_answer(
    terminal: TerminalCaller,
    key: str,
    fingerprint: str,
    response: CheckoutResponse,
    *,
    status: int = 200,
    into: DeferredWrites | None = None,
) -> None:
    answer = StoredResponse(status=status, body=msgspec.to_builtins(response))
    await remember(
        scope=terminal.scope, key=key, fingerprint=fingerprint, response=answer, into=into
    )


@lru_cache(maxsize=64)
def sent(with_items: str) -> str:
    """A statement of nothing but ``db.deferred``'s WITH items (fixed templates)."""
    return "WITH " + with_items + "sent AS (SELECT 1) SELECT 1 FROM sent"  # noqa: S608


async def send(writes: DeferredWrites) -> None:
    """``writes`` in one statement of their own (nothing to post with them)."""
    with_items, params = writes.prefix()
    await sql.fetch(sent(with_items), **params)


async def begin_step(
    template: str,
    terminal: TerminalCaller,
    checkout_id: uuid.UUID,
    key: str,
    fingerprint: str,
    *,
    allowed: tuple[str, ...],
    **params: Any,
) -> tuple[Mapping[str, Any], CheckoutRow | CheckoutResponse]:
    """A step's start in its transaction: the key's lock, then the one read (``template``,
    with ``params``). With the row: the key's stored answer when the key already ran this
    step (to be replayed), else the checkout, this store's and in a status ``allowed``."""
    await lock_key(scope=terminal.scope, key=key)
    rows = await sql.fetch(
        template,
        checkout_id=checkout_id,
        scope=terminal.scope,
        key=key,
        store_id=terminal.store_id,
        allowed=list(allowed),
        **params,
    )
    row = rows[0]
    stored = stored_answer(row, fingerprint)
    if stored is not None:
        return row, stored
    return row, checked(row, terminal, checkout_id, allowed=allowed)


def checked(
    row: Mapping[str, Any],
    terminal: TerminalCaller,
    checkout_id: uuid.UUID,
    *,
    allowed: tuple[str, ...],
) -> CheckoutRow:
    # Another store's checkout is answered as if it did not exist.
    if row["id"] is None or row["store"] != terminal.store_id:
        raise NotFound(f"checkout {checkout_id} does not exist")
    if row["status"] not in allowed:
        raise CheckoutNotOpen(f"the checkout is {row['status']}", status=row["status"])
    return checkout_from(row)


def balance_of(row: Mapping[str, Any]) -> Balance:
    return Balance(available=row["available"], pending=row["pending"], held=row["held"])


def account_of(row: Mapping[str, Any], member_id: uuid.UUID) -> LockedAccount:
    """The checkout member's account, locked by the step's read."""
    if row["account_id"] is None:
        raise MemberNotFound(f"member {member_id} has no account")
    return LockedAccount(
        id=row["account_id"], member_id=member_id, tier=row["tier"], balance=balance_of(row)
    )


SAVE = """
UPDATE checkout SET status = {status}, hold_points = {hold_points},
                    hold_lots = {hold_lots}::jsonb, hold_expires_at = {hold_expires_at},
                    purchase = {purchase}, updated_at = {updated_at}
WHERE id = {id}
"""


async def save(checkout: CheckoutRow, now: datetime, *, into: DeferredWrites | None = None) -> None:
    """Write what a checkout's steps change (with ``into``: with the change's last statement)."""
    await write(
        SAVE,
        into,
        status=checkout.status,
        hold_points=checkout.hold_points,
        hold_lots=msgspec.json.encode(checkout.hold_lots or []).decode(),
        hold_expires_at=checkout.hold_expires_at,
        purchase=checkout.purchase,
        updated_at=now,
        id=checkout.id,
    )


def lots_of(checkout: CheckoutRow) -> TakenLots:
    pairs: Any = checkout.hold_lots or []  # loaded as JSON: [[lot id, points], ...]
    return [(str(lot), int(points)) for lot, points in pairs]


def items_of(checkout: CheckoutRow) -> list[PurchaseItem]:
    return msgspec.convert(checkout.items or [], list[PurchaseItem])


def hold_event(checkout: CheckoutRow) -> dict[str, Any]:
    return {
        "checkout_id": str(checkout.id),
        "points": checkout.hold_points,
        "status": checkout.status,
        "expires_at": checkout.hold_expires_at.isoformat() if checkout.hold_expires_at else None,
    }
