"""Two-phase checkouts: quote, hold points, complete (capture + earn) or cancel (void).

Lock order is always checkout row, then account row (the hold sweeper too), so checkout
operations cannot deadlock with each other or with one-shot purchases (account row only).

Each step runs once per Idempotency-Key (``backend.idempotency``'s semantics: a duplicate
while the first runs gets 409, a settled key replays its answer, another body 422): BEGIN;
the key's advisory lock, a statement of its own; one read of the key's stored answer with
everything the step checks, the checkout locked and then (in the same statement, a LATERAL
after it) its member's account; the step's writes, with the key's answer where it is known
before them (open, hold: one statement); COMMIT. Hand-written SQL (``db.sql``), no Piccolo
query building on these paths.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import msgspec
from asyncpg.exceptions import UniqueViolationError

from backend.auth.callers import TerminalCaller
from backend.campaigns.at_sale import preview_offers
from backend.campaigns.catalogue import LiveCampaign
from backend.errors import (
    CheckoutNotOpen,
    ExternalIdReused,
    MemberNotFound,
    NotFound,
    RedeemCapExceeded,
)
from backend.idempotency import (
    StoredResponse,
    lock_key,
    remember,
    request_fingerprint,
    stored_outcome,
)
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.earning import (
    discount_for,
    eligible_amount,
    max_redeemable,
    points_earned,
)
from backend.loyalty.ledger import LockedAccount, lock_account
from backend.loyalty.lots import TakenLots
from backend.loyalty.rules import RulesVersion, current_rules, rules_at
from backend.loyalty.schemas import Balance
from backend.loyalty.tiers import rank, tier_for
from backend.sales.sale import (
    BUYER_COLUMNS,
    Sale,
    check_currency,
    check_items,
    lock_buyer,
    read_buyer,
    settle_sale,
    tier_window,
)
from backend.sales.schemas import PurchaseItem
from backend.stores.sale_cap import check_sale_amount
from backend.till.checkout_schemas import (
    CheckoutRequest,
    CheckoutResponse,
    CompleteRequest,
    HoldRequest,
)
from backend.till.selling import SellingService
from db import sql
from db.deferred import DeferredWrites, write
from db.ids import new_id
from db.pool import engine
from realtime.publisher import EventPublisher

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Checkout:
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


def _checkout(row: Mapping[str, Any]) -> _Checkout:
    return _Checkout(
        id=row["id"],
        store=row["store"],
        terminal=row["terminal"],
        member=row["member"],
        external_id=row["external_id"],
        amount=row["amount"],
        currency=row["currency"],
        items=sql.loaded_json(row["items"]),
        rules_version=row["rules_version"],
        status=row["status"],
        hold_points=row["hold_points"],
        hold_lots=sql.loaded_json(row["hold_lots"]),
        hold_expires_at=row["hold_expires_at"],
        purchase=row["purchase"],
    )


# What opening a checkout checks, in one round trip after the key's lock: the key's stored
# answer, the store's currency and maximum sale, a sale or checkout with this receipt, and
# the card's holder with their account locked (the checkout row is new: nothing to lock first).
_OPEN_CHECKS = """
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
_LOCK_CHECKOUT = """
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
_LOCK_ACCOUNT = f"""{_LOCK_CHECKOUT}
    SELECT a.id AS account_id, a.available, a.pending, a.held, m.tier
    FROM account a JOIN member m ON m.id = a.member
    WHERE a.member = c.member AND c.store = {{store_id}} AND c.status = ANY({{allowed}}::text[])
    FOR UPDATE OF a
) AS buyer ON true
"""  # noqa: S608 (the fixed _LOCK_CHECKOUT, bound values)
# Completing: the account with what the sale knows of its buyer (``BUYER_COLUMNS``).
_LOCK_BUYER = f"""{_LOCK_CHECKOUT}
    SELECT {BUYER_COLUMNS}, st.time_zone AS store_zone, st.day_starts_at
    FROM account a JOIN member m ON m.id = a.member
    LEFT JOIN member_stats s ON s.member = a.member
    LEFT JOIN store st ON st.id = c.store
    WHERE a.member = c.member AND c.store = {{store_id}} AND c.status = ANY({{allowed}}::text[])
    FOR UPDATE OF a
) AS buyer ON true
"""  # noqa: S608 (the fixed _LOCK_CHECKOUT and BUYER_COLUMNS, bound values)

_INSERT = """
INSERT INTO checkout (id, store, terminal, member, external_id, amount, currency, items,
                      rules_version, status, hold_points, hold_lots, hold_expires_at,
                      purchase, created_at, updated_at)
VALUES ({id}, {store}, {terminal}, {member}, {external_id}, {amount}, {currency},
        {items}::jsonb, {rules_version}, 'open', 0, '[]'::jsonb, NULL, NULL, {now}, {now})
"""

_OPEN = ("open", "held")


class CheckoutService(SellingService):
    async def open(
        self, *, terminal: TerminalCaller, request: CheckoutRequest, key: str
    ) -> tuple[CheckoutResponse, bool]:
        check_items(request.items, request.amount)
        fingerprint = _fingerprint(("open", request))
        async with engine().transaction():
            await lock_key(scope=terminal.scope, key=key)
            known = (
                await sql.fetch(
                    _OPEN_CHECKS,
                    scope=terminal.scope,
                    key=key,
                    store_id=terminal.store_id,
                    external_id=request.external_id,
                    card_number=request.customer.card_number,
                )
            )[0]
            stored = _stored(known, fingerprint)
            if stored is not None:
                return stored, True
            check_currency(known["currency"], request.currency)
            check_sale_amount(request.amount, known["max_sale_amount"])
            if known["sold"]:
                raise ExternalIdReused(f"external_id {request.external_id!r} is already a sale")
            if known["opened"]:
                raise ExternalIdReused(
                    f"external_id {request.external_id!r} already has a checkout; a retry "
                    "replays with the same Idempotency-Key"
                )
            member_id = await self._customers.identify(
                request.customer, card_holder=known["card_holder"]
            )
            rules = await current_rules()
            now = datetime.now(UTC)
            checkout = _Checkout(
                id=new_id(),
                store=terminal.store_id,
                terminal=terminal.terminal_id,
                member=member_id,
                external_id=request.external_id,
                amount=request.amount,
                currency=request.currency,
                items=msgspec.to_builtins(request.items),
                rules_version=rules.version,
                status="open",
                hold_points=0,
                hold_lots=[],
                hold_expires_at=None,
                purchase=None,
            )
            if known["account_id"] is not None:  # the card's holder, locked by the read
                balance, tier = _balance(known), str(known["tier"])
            else:  # a QR token's holder
                account = await lock_account(member_id)
                balance, tier = account.balance, account.tier
            live = await self._catalogue.live()
            response = await _describe(checkout, balance, live, tier=tier)
            writes = DeferredWrites()
            writes.add(
                _INSERT,
                id=checkout.id,
                store=checkout.store,
                terminal=checkout.terminal,
                member=checkout.member,
                external_id=checkout.external_id,
                amount=checkout.amount,
                currency=checkout.currency,
                items=msgspec.json.encode(request.items).decode(),
                rules_version=checkout.rules_version,
                now=now,
            )
            await _remember(terminal, key, fingerprint, response, status=201, into=writes)
            try:
                await _send(writes)
            except UniqueViolationError as exc:
                if exc.constraint_name != "checkout_one_per_receipt":
                    raise
                # Another key opened a checkout for this receipt at the same moment.
                raise ExternalIdReused(
                    f"external_id {request.external_id!r} already has a checkout"
                ) from exc
        return response, False

    async def hold(
        self, *, terminal: TerminalCaller, checkout_id: uuid.UUID, request: HoldRequest, key: str
    ) -> tuple[CheckoutResponse, bool]:
        fingerprint = _fingerprint(("hold", checkout_id, request))
        async with engine().transaction():
            await lock_key(scope=terminal.scope, key=key)
            row = await _read(_LOCK_ACCOUNT, terminal, checkout_id, key, allowed=_OPEN)
            stored = _stored(row, fingerprint)
            if stored is not None:
                return stored, True
            checkout = _checked(row, terminal, checkout_id, allowed=_OPEN)
            rules = await rules_at(checkout.rules_version)
            cap = max_redeemable(checkout.amount, rules)
            if request.points > cap:
                raise RedeemCapExceeded(
                    f"at most {cap} points may be spent on this check", max_redeemable_points=cap
                )
            now = datetime.now(UTC)
            change = AccountChange(_account(row, checkout.member), now=now)
            cause = Cause("checkout", checkout.id)
            await change.void(checkout.hold_points, _lots(checkout), cause)
            taken = await change.hold(request.points, cause)
            checkout.hold_points = request.points
            checkout.hold_lots = [[lot, points] for lot, points in taken]
            checkout.status = "held" if request.points else "open"
            checkout.hold_expires_at = (
                now + timedelta(seconds=rules.hold_ttl_s) if request.points else None
            )
            # The answer is known before the write (the balance is the change's own), so the
            # checkout's row and the key's answer go with the ledger's statement.
            live = await self._catalogue.live()
            response = await _describe(checkout, change.balance, live, tier=change.account.tier)
            writes = DeferredWrites()
            await _save(checkout, now, into=writes)
            await _remember(terminal, key, fingerprint, response, into=writes)
            change.event("hold.updated", _hold_event(checkout))
            _, envelopes = await change.finish(
                context={"checkout_id": str(checkout.id)}, writes=writes
            )
        await self._publisher.publish(envelopes)
        return response, False

    async def complete(
        self,
        *,
        terminal: TerminalCaller,
        checkout_id: uuid.UUID,
        request: CompleteRequest,
        key: str,
    ) -> tuple[CheckoutResponse, bool]:
        fingerprint = _fingerprint(("complete", checkout_id, request))
        current = await current_rules()
        async with engine().transaction():
            await lock_key(scope=terminal.scope, key=key)
            since = datetime.now(UTC) - timedelta(days=current.rules.tier_window_days)
            row = await _read(_LOCK_BUYER, terminal, checkout_id, key, allowed=_OPEN, since=since)
            stored = _stored(row, fingerprint)
            if stored is not None:
                return stored, True
            checkout = _checked(row, terminal, checkout_id, allowed=_OPEN)
            now = datetime.now(UTC)
            if checkout.hold_expires_at is not None and checkout.hold_expires_at <= now:
                raise CheckoutNotOpen("the hold expired; open a new checkout")
            owed = checkout.amount - discount_for(checkout.hold_points)
            if request.paid_amount > owed:
                raise CheckoutNotOpen(
                    f"paid_amount {request.paid_amount} is more than the {owed} owed", owed=owed
                )
            rules = await rules_at(checkout.rules_version)
            sale = Sale(
                store_id=terminal.store_id,
                terminal_id=terminal.terminal_id,
                member_id=checkout.member,
                external_id=checkout.external_id,
                amount=checkout.amount,
                currency=checkout.currency,
                items=_items(checkout),
                request_hash=request_fingerprint(msgspec.json.encode(["checkout", checkout.id])),
                rules=RulesVersion(version=checkout.rules_version, rules=rules),
                checkout_id=checkout.id,
                campaigns=await self._catalogue.live(),
            )
            buyer = None  # no account: settle_sale says so
            if row["account_id"] is not None:
                buyer = read_buyer(checkout.member, terminal.store_id, row, locked=True)
                if rules.tier_window_days != current.rules.tier_window_days:
                    # Read with the rules in force; the checkout's own decide the upgrade.
                    buyer = await lock_buyer(
                        checkout.member, store_id=terminal.store_id, since=tier_window(sale)
                    )
            purchase, envelopes = await settle_sale(
                sale, captured=checkout.hold_points, paid_amount=request.paid_amount, buyer=buyer
            )
            assert buyer is not None  # settle_sale raised otherwise
            # The tier the sale left the member in (backend.loyalty.tiers.upgrade_tier).
            reached = tier_for(buyer.spend_before + purchase.paid_amount, rules)
            tier = max(buyer.account.tier, reached, key=rank)
            checkout.status = "completed"
            checkout.purchase = purchase.purchase_id
            checkout.hold_expires_at = None
            response = await _describe(
                checkout,
                purchase.balance,
                await self._catalogue.live(),
                purchase=purchase,
                tier=tier,
            )
            writes = DeferredWrites()  # the checkout's row and the key's answer, one statement
            await _save(checkout, now, into=writes)
            await _remember(terminal, key, fingerprint, response, into=writes)
            await _send(writes)
        await self._publisher.publish(envelopes)
        return response, False

    async def cancel(
        self, *, terminal: TerminalCaller, checkout_id: uuid.UUID, key: str
    ) -> tuple[CheckoutResponse, bool]:
        fingerprint = _fingerprint(("cancel", checkout_id))
        allowed = ("open", "held", "cancelled")
        async with engine().transaction():
            await lock_key(scope=terminal.scope, key=key)
            row = await _read(_LOCK_ACCOUNT, terminal, checkout_id, key, allowed=allowed)
            stored = _stored(row, fingerprint)
            if stored is not None:
                return stored, True
            checkout = _checked(row, terminal, checkout_id, allowed=allowed)
            now = datetime.now(UTC)
            change = AccountChange(_account(row, checkout.member), now=now)
            if checkout.status != "cancelled":
                await change.void(
                    checkout.hold_points, _lots(checkout), Cause("checkout", checkout.id)
                )
                if checkout.hold_points:
                    checkout.hold_points = 0
                    change.event("hold.updated", {**_hold_event(checkout), "status": "cancelled"})
                checkout.status = "cancelled"
                checkout.hold_expires_at = None
                await _save(checkout, now)
            _, envelopes = await change.finish(context={"checkout_id": str(checkout.id)})
            response = await _describe(
                checkout, change.balance, await self._catalogue.live(), tier=change.account.tier
            )
            await _remember(terminal, key, fingerprint, response)
        await self._publisher.publish(envelopes)
        return response, False


def _fingerprint(request: Any) -> str:
    return request_fingerprint(msgspec.json.encode(request))


def _stored(row: Mapping[str, Any], fingerprint: str) -> CheckoutResponse | None:
    """The key's stored answer, read with the step's checks (422 for another request)."""
    stored = stored_outcome(
        request_hash=row["key_hash"],
        status=row["key_status"],
        body=sql.loaded_json(row["key_body"]),
        fingerprint=fingerprint,
    )
    return None if stored is None else msgspec.convert(stored.body, CheckoutResponse)


async def _remember(
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
def _sent(with_items: str) -> str:
    """A statement of nothing but ``db.deferred``'s WITH items (fixed templates)."""
    return "WITH " + with_items + "sent AS (SELECT 1) SELECT 1 FROM sent"  # noqa: S608


async def _send(writes: DeferredWrites) -> None:
    """``writes`` in one statement of their own (nothing to post with them)."""
    with_items, params = writes.prefix()
    await sql.fetch(_sent(with_items), **params)


async def _read(
    template: str,
    terminal: TerminalCaller,
    checkout_id: uuid.UUID,
    key: str,
    *,
    allowed: tuple[str, ...],
    **params: Any,
) -> Mapping[str, Any]:
    rows = await sql.fetch(
        template,
        checkout_id=checkout_id,
        scope=terminal.scope,
        key=key,
        store_id=terminal.store_id,
        allowed=list(allowed),
        **params,
    )
    return rows[0]


def _checked(
    row: Mapping[str, Any],
    terminal: TerminalCaller,
    checkout_id: uuid.UUID,
    *,
    allowed: tuple[str, ...],
) -> _Checkout:
    # Another store's checkout is answered as if it did not exist.
    if row["id"] is None or row["store"] != terminal.store_id:
        raise NotFound(f"checkout {checkout_id} does not exist")
    if row["status"] not in allowed:
        raise CheckoutNotOpen(f"the checkout is {row['status']}", status=row["status"])
    return _checkout(row)


def _balance(row: Mapping[str, Any]) -> Balance:
    return Balance(available=row["available"], pending=row["pending"], held=row["held"])


def _account(row: Mapping[str, Any], member_id: uuid.UUID) -> LockedAccount:
    """The checkout member's account, locked by the step's read."""
    if row["account_id"] is None:
        raise MemberNotFound(f"member {member_id} has no account")
    return LockedAccount(
        id=row["account_id"], member_id=member_id, tier=row["tier"], balance=_balance(row)
    )


_EXPIRED = """
SELECT * FROM checkout WHERE status = 'held' AND hold_expires_at <= {now}
ORDER BY hold_expires_at LIMIT 1 FOR UPDATE SKIP LOCKED
"""


async def expire_holds(publisher: EventPublisher, *, now: datetime, batch: int = 100) -> int:
    """Void holds whose time ran out (the sweeper); safe to run from several processes."""
    expired = 0
    while True:
        async with engine().transaction():
            rows = await sql.fetch(_EXPIRED, now=now)
            if not rows:
                return expired
            checkout = _checkout(rows[0])
            change = AccountChange(await lock_account(checkout.member), now=now)
            await change.void(checkout.hold_points, _lots(checkout), Cause("checkout", checkout.id))
            checkout.status = "expired"
            checkout.hold_points = 0
            checkout.hold_expires_at = None
            await _save(checkout, now)
            change.event("hold.updated", {**_hold_event(checkout), "status": "expired"})
            _, envelopes = await change.finish(context={"checkout_id": str(checkout.id)})
        await publisher.publish(envelopes)
        expired += 1
        if expired >= batch:
            return expired


_SAVE = """
UPDATE checkout SET status = {status}, hold_points = {hold_points},
                    hold_lots = {hold_lots}::jsonb, hold_expires_at = {hold_expires_at},
                    purchase = {purchase}, updated_at = {updated_at}
WHERE id = {id}
"""


async def _save(checkout: _Checkout, now: datetime, *, into: DeferredWrites | None = None) -> None:
    """Write what a checkout's steps change (with ``into``: with the change's last statement)."""
    await write(
        _SAVE,
        into,
        status=checkout.status,
        hold_points=checkout.hold_points,
        hold_lots=msgspec.json.encode(checkout.hold_lots or []).decode(),
        hold_expires_at=checkout.hold_expires_at,
        purchase=checkout.purchase,
        updated_at=now,
        id=checkout.id,
    )


def _lots(checkout: _Checkout) -> TakenLots:
    pairs: Any = checkout.hold_lots or []  # loaded as JSON: [[lot id, points], ...]
    return [(str(lot), int(points)) for lot, points in pairs]


def _items(checkout: _Checkout) -> list[PurchaseItem]:
    return msgspec.convert(checkout.items or [], list[PurchaseItem])


def _hold_event(checkout: _Checkout) -> dict[str, Any]:
    return {
        "checkout_id": str(checkout.id),
        "points": checkout.hold_points,
        "status": checkout.status,
        "expires_at": checkout.hold_expires_at.isoformat() if checkout.hold_expires_at else None,
    }


async def _describe(
    checkout: _Checkout,
    balance: Balance,
    campaigns: list[LiveCampaign],
    *,
    purchase: Any = None,
    tier: str,
) -> CheckoutResponse:
    """The checkout as the till sees it; ``tier``: the member's."""
    rules = await rules_at(checkout.rules_version)
    account_tier = tier
    owed = checkout.amount - discount_for(checkout.hold_points)
    eligible = eligible_amount(
        amount=checkout.amount, paid_amount=owed, items=_items(checkout), rules=rules
    )
    to_earn = points_earned(eligible, rules.tier_earn_percent[account_tier])
    offers = (
        await preview_offers(
            campaigns,
            member_id=checkout.member,
            store_id=checkout.store,
            items=_items(checkout),
            amount=checkout.amount,
            base_points=to_earn,
        )
        if checkout.status in ("open", "held")
        else list(purchase.offers_applied if purchase else [])
    )
    return CheckoutResponse(
        checkout_id=checkout.id,
        member_id=checkout.member,
        status=checkout.status,
        amount=checkout.amount,
        currency=checkout.currency,
        max_redeemable_points=max(
            0, min(max_redeemable(checkout.amount, rules), balance.available + checkout.hold_points)
        ),
        points_to_earn=to_earn + sum(offer.points for offer in offers),
        held_points=checkout.hold_points,
        hold_expires_at=checkout.hold_expires_at,
        offers=offers,
        balance=balance,
        purchase=purchase,
    )
