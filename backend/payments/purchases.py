"""One-shot purchases at the till: earn (and optionally redeem) points in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from asyncpg.exceptions import UniqueViolationError

from backend.accounting.documents import record_document
from backend.auth.callers import TerminalCaller
from backend.campaigns.at_sale import apply_campaigns, shopper_from, use_coupons
from backend.campaigns.catalogue import Catalogue, LiveCampaign
from backend.campaigns.kinds import Shopper
from backend.errors import (
    CurrencyMismatch,
    ExternalIdReused,
    MemberNotFound,
    RedeemCapExceeded,
    ValidationFailed,
)
from backend.idempotency import (
    IdempotencyKey,
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
from backend.loyalty.ledger import LockedAccount
from backend.loyalty.rules import ProgramRules, RulesVersion, current_rules
from backend.loyalty.tiers import QUALIFYING_SPEND, rank, set_tier, tier_for
from backend.members.card_numbers import is_valid_card_number
from backend.members.qr import QrTokens
from backend.members.schemas import Balance
from backend.payments.schemas import Customer, PurchaseItem, PurchaseRequest, PurchaseResponse
from backend.stores.events import DayMove, record_store_activity, utc_day
from db import sql
from db.ids import new_id
from db.pool import engine
from db.tables import Member
from realtime.publisher import EventPublisher, Outgoing


@dataclass(frozen=True, slots=True)
class PurchaseOutcome:
    response: PurchaseResponse
    replayed: bool


@dataclass(frozen=True, slots=True)
class Sale:
    """What a completed sale is, however it was made (one-shot, checkout, app order)."""

    store_id: uuid.UUID
    terminal_id: uuid.UUID | None  # None: paid in the app
    member_id: uuid.UUID
    external_id: str
    amount: int
    currency: str
    items: list[PurchaseItem]
    request_hash: str
    rules: RulesVersion
    checkout_id: uuid.UUID | None = None
    order_id: uuid.UUID | None = None
    campaigns: list[LiveCampaign] = field(default_factory=list)  # the catalogue's, at the sale
    coupons: list[str] = field(default_factory=list)
    answers: IdempotencyKey | None = None  # the key whose stored answer the sale's response is


class Unread:
    """Not read yet (as opposed to None: read, and there is none)."""


UNREAD = Unread()

_WHAT_IS_KNOWN = """
SELECT s.currency,
       k.request_hash AS key_hash, k.response_status AS key_status, k.response_body AS key_body,
       p.id AS earlier_id, p.request_hash AS earlier_hash, p.result AS earlier_result,
       m.id AS card_holder
FROM (SELECT 1) AS one
LEFT JOIN store s ON s.id = {store_id}
LEFT JOIN idempotency_record k ON k.scope = {scope} AND k.key = {key}
LEFT JOIN purchase p ON p.store = {store_id} AND p.external_id = {external_id}
LEFT JOIN member m ON m.card_number = {card_number}
"""


async def what_is_known(
    terminal: TerminalCaller, request: PurchaseRequest, idempotency_key: str
) -> Mapping[str, Any]:
    """Everything a purchase checks before it sells, in one round trip: the key's stored
    outcome, an earlier purchase with this receipt, the store's currency, the card's holder."""
    rows = await sql.fetch(
        _WHAT_IS_KNOWN,
        store_id=terminal.store_id,
        scope=terminal.scope,
        key=idempotency_key,
        external_id=request.external_id,
        card_number=request.customer.card_number,
    )
    return rows[0]


class CustomerResolver:
    def __init__(self, *, qr_tokens: QrTokens) -> None:
        self._qr_tokens = qr_tokens

    async def identify(
        self, customer: Customer, *, card_holder: uuid.UUID | Unread | None = UNREAD
    ) -> uuid.UUID:
        """The member a till names, by card or by single-use QR token. ``card_holder``:
        the member with that card number, when the caller already read it (None: nobody)."""
        if (customer.card_number is None) == (customer.qr_token is None):
            raise ValidationFailed("customer needs exactly one of card_number and qr_token")
        if customer.qr_token is not None:
            member_id = await self._qr_tokens.consume(customer.qr_token)
            if member_id is None:
                raise MemberNotFound("the QR token is unknown, expired or already used")
            return member_id
        assert customer.card_number is not None
        if not is_valid_card_number(customer.card_number):
            raise ValidationFailed("card_number fails its check digit")
        if isinstance(card_holder, Unread):
            row = (
                await Member.select(Member.id)
                .where(Member.card_number == customer.card_number)
                .first()
            )
            card_holder = None if row is None else uuid.UUID(str(row["id"]))
        if card_holder is None:
            raise MemberNotFound("no member has this card number")
        return card_holder


class PurchaseService:
    def __init__(
        self, *, customers: CustomerResolver, publisher: EventPublisher, catalogue: Catalogue
    ) -> None:
        self._customers = customers
        self._publisher = publisher
        self._catalogue = catalogue

    async def record_purchase(
        self, *, terminal: TerminalCaller, request: PurchaseRequest, idempotency_key: str
    ) -> PurchaseOutcome:
        check_items(request.items, request.amount)
        try:
            return await self._record(terminal, request, idempotency_key)
        except UniqueViolationError as exc:
            if exc.constraint_name != "one_per_receipt":
                raise
            # Another key raced us to the same receipt and won; run again to answer as it did.
            return await self._record(terminal, request, idempotency_key)

    async def _record(
        self, terminal: TerminalCaller, request: PurchaseRequest, idempotency_key: str
    ) -> PurchaseOutcome:
        fingerprint = request_fingerprint(msgspec.json.encode(request))
        scope = terminal.scope
        async with engine().transaction():
            await lock_key(scope=scope, key=idempotency_key)
            known = await what_is_known(terminal, request, idempotency_key)
            stored = stored_outcome(
                request_hash=known["key_hash"],
                status=known["key_status"],
                body=sql.loaded_json(known["key_body"]),
                fingerprint=fingerprint,
            )
            if stored is not None:
                return _replay(stored)
            if known["earlier_id"] is not None:
                # The till retried with a new key: same receipt, same answer, no double earn.
                if known["earlier_hash"] != fingerprint:
                    raise ExternalIdReused(
                        f"external_id {request.external_id!r} belongs to another purchase",
                        purchase_id=str(known["earlier_id"]),
                    )
                replay = StoredResponse(status=201, body=sql.loaded_json(known["earlier_result"]))
                await remember(
                    scope=scope, key=idempotency_key, fingerprint=fingerprint, response=replay
                )
                return _replay(replay)
            check_currency(known["currency"], request.currency)
            member_id = await self._customers.identify(
                request.customer, card_holder=known["card_holder"]
            )
            sale = Sale(
                store_id=terminal.store_id,
                terminal_id=terminal.terminal_id,
                member_id=member_id,
                external_id=request.external_id,
                amount=request.amount,
                currency=request.currency,
                items=request.items,
                request_hash=fingerprint,
                rules=await current_rules(),
                campaigns=await self._catalogue.live(),
                coupons=request.coupons,
                answers=IdempotencyKey(scope=scope, key=idempotency_key),
            )
            response, envelopes = await settle_sale(sale, redeem=request.redeem_points)
        await self._publisher.publish(envelopes)
        return PurchaseOutcome(response=response, replayed=False)


async def settle_sale(
    sale: Sale, *, redeem: int = 0, captured: int = 0, paid_amount: int | None = None
) -> tuple[PurchaseResponse, list[Outgoing]]:
    """Record a sale: spend ``redeem`` points now (or count ``captured`` held ones), earn on
    what was paid, move the tier up if the spend reached it. Inside the caller's transaction.
    """
    rules = sale.rules.rules
    now = datetime.now(UTC)
    buyer = await lock_buyer(sale.member_id, since=now - timedelta(days=rules.tier_window_days))
    account = buyer.account
    change = AccountChange(account, now=now)
    spent = redeem + captured
    cap = max_redeemable(sale.amount, rules)
    if spent > cap:
        raise RedeemCapExceeded(
            f"at most {cap} points may be spent on this check", max_redeemable_points=cap
        )
    purchase_id = new_id()
    cause = Cause("purchase", purchase_id)
    await change.redeem(redeem, cause)
    held_for = (
        Cause("order", sale.order_id) if sale.order_id else Cause("checkout", sale.checkout_id)
    )
    await change.capture(captured, held_for)
    coupon_discount, coupons = await use_coupons(sale.member_id, sale.coupons, sale.items, now=now)
    if paid_amount is None:
        paid = max(0, sale.amount - discount_for(spent) - coupon_discount)
    else:
        paid = paid_amount
    eligible = eligible_amount(amount=sale.amount, paid_amount=paid, items=sale.items, rules=rules)
    base = points_earned(eligible, rules.tier_earn_percent[account.tier])
    await change.earn(base, cause, rules, purchase_id)
    offers = await apply_campaigns(
        change,
        sale.campaigns,
        store_id=sale.store_id,
        items=sale.items,
        amount=sale.amount,
        base_points=base,
        rules=rules,
        purchase_id=purchase_id,
        shopper=buyer.shopper,
    )
    earned = base + sum(offer.points for offer in offers)
    response = PurchaseResponse(
        purchase_id=purchase_id,
        member_id=sale.member_id,
        external_id=sale.external_id,
        amount=sale.amount,
        paid_amount=paid,
        currency=sale.currency,
        points_redeemed=spent,
        points_earned=earned,
        offers_applied=coupons + offers,
        balance=change.balance,
    )
    result = msgspec.to_builtins(response)
    change.writes.add(
        _INSERT_PURCHASE,
        id=purchase_id,
        store_id=sale.store_id,
        terminal_id=sale.terminal_id,
        member_id=sale.member_id,
        external_id=sale.external_id,
        amount=sale.amount,
        paid_amount=paid,
        currency=sale.currency,
        points_earned=earned,
        points_redeemed=spent,
        request_hash=sale.request_hash,
        result=msgspec.json.encode(result).decode(),
        checkout_id=sale.checkout_id,
        rules_version=sale.rules.version,
        created_at=now,
    )
    if sale.answers is not None:  # the idempotency record, in the same statement
        await remember(
            scope=sale.answers.scope,
            key=sale.answers.key,
            fingerprint=sale.request_hash,
            response=StoredResponse(status=201, body=result),
            into=change.writes,
        )
    await record_document(
        type="sale",
        reference=purchase_id,
        occurred_at=now,
        store_id=sale.store_id,
        currency=sale.currency,
        gross_amount=sale.amount,
        loyalty_discount=sale.amount - paid,
        points_issued=earned,
        points_redeemed=spent,
        points_liability_delta=earned - spent,
        into=change.writes,
    )
    await upgrade_tier(change, rules, spend=buyer.spend_before + paid)
    context: dict[str, Any] = {
        "purchase_id": str(purchase_id),
        "store_id": str(sale.store_id),
        "paid_amount": paid,
        "currency": sale.currency,
    }
    _, envelopes = await change.finish(context=context)
    envelopes += await record_store_activity(
        store_id=sale.store_id,
        move=DayMove(
            sales=1,
            sales_amount=paid,
            points_earned=earned,
            points_redeemed=spent,
            visitor=sale.member_id,
        ),
        day=utc_day(now),
        sale={
            "purchase_id": str(purchase_id),
            "terminal_id": str(sale.terminal_id) if sale.terminal_id else None,
            "member_id": str(sale.member_id),
            "amount": sale.amount,
            "paid_amount": paid,
            "currency": sale.currency,
            "points_earned": earned,
            "points_redeemed": spent,
            "checkout_id": str(sale.checkout_id) if sale.checkout_id else None,
        },
        now=now,
    )
    return response, envelopes


async def upgrade_tier(change: AccountChange, rules: ProgramRules, *, spend: int) -> None:
    """Move the tier up if ``spend`` (qualifying, this sale included) reached a higher one."""
    member_id = change.account.member_id
    reached = tier_for(spend, rules)
    if rank(reached) > rank(change.account.tier):
        await set_tier(member_id, reached)
        change.event("tier.changed", {"from": change.account.tier, "to": reached})


_INSERT_PURCHASE = """
INSERT INTO purchase (id, store, terminal, member, external_id, amount, paid_amount, currency,
                      points_earned, points_redeemed, request_hash, result, checkout,
                      rules_version, refunded_amount, points_reversed, points_returned,
                      created_at)
VALUES ({id}, {store_id}, {terminal_id}, {member_id}, {external_id}, {amount}, {paid_amount},
        {currency}, {points_earned}, {points_redeemed}, {request_hash}, {result}::jsonb,
        {checkout_id}, {rules_version}, 0, 0, 0, {created_at})
"""

_LOCK_BUYER = f"""
SELECT a.id, a.available, a.pending, a.held, m.tier, m.birth_date,
       s.visits, s.last_visit_at, s.category_counts, s.stamps,
       (SELECT {QUALIFYING_SPEND}
        FROM purchase p WHERE p.member = {{member_id}} AND p.created_at > {{since}}) AS spend
FROM account a JOIN member m ON m.id = a.member LEFT JOIN member_stats s ON s.member = a.member
WHERE a.member = {{member_id}}
FOR UPDATE OF a
"""  # noqa: S608 (the fixed QUALIFYING_SPEND, bound values)


@dataclass(frozen=True, slots=True)
class Buyer:
    account: LockedAccount
    shopper: Shopper
    spend_before: int  # qualifying spend inside the tier window, before this sale


async def lock_buyer(member_id: uuid.UUID, *, since: datetime) -> Buyer:
    """``lock_account`` plus what the sale needs to know of the member, in one round trip:
    the tier and stats campaigns target, and the spend that decides an upgrade."""
    rows = await sql.fetch(_LOCK_BUYER, member_id=member_id, since=since)
    if not rows:
        raise MemberNotFound(f"member {member_id} has no account")
    row = rows[0]
    account = LockedAccount(
        id=row["id"],
        member_id=member_id,
        tier=row["tier"],
        balance=Balance(available=row["available"], pending=row["pending"], held=row["held"]),
    )
    return Buyer(account=account, shopper=shopper_from(member_id, row), spend_before=row["spend"])


def check_items(items: list[PurchaseItem], amount: int) -> None:
    if items:
        total = sum(item.quantity * item.unit_price for item in items)
        if total != amount:
            raise ValidationFailed(
                f"items add up to {total}, but amount is {amount}", items_total=total
            )


def check_currency(store_currency: str | None, currency: str) -> None:
    """The till's currency must be its store's (None: the store row was not found)."""
    if store_currency is not None and store_currency != currency:
        raise CurrencyMismatch(f"this store takes {store_currency}, not {currency}")


def _replay(stored: StoredResponse) -> PurchaseOutcome:
    return PurchaseOutcome(response=msgspec.convert(stored.body, PurchaseResponse), replayed=True)
