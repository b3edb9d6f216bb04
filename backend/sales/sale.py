"""A sale, however it was made (one-shot at the till, a checkout, an app order), and how it
is settled inside the caller's transaction: the buyer locked, points spent and earned,
campaigns and coupons applied, the tier moved up, and the sale's own rows (purchase, with the
till's idempotency key when one asked for it; accounting document, visit) sent with the
ledger's one statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec

from backend.accounting.documents import record_document
from backend.campaigns.at_sale import apply_campaigns, shopper_from, use_coupons
from backend.campaigns.catalogue import LiveCampaign
from backend.campaigns.engine import MemberUsage
from backend.campaigns.kinds import Shopper
from backend.campaigns.usage import USAGE_COLUMN, usage_from_column
from backend.errors import (
    CurrencyMismatch,
    MemberNotFound,
    NotFound,
    RedeemCapExceeded,
    ValidationFailed,
)
from backend.local_time import StoreClock
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.earning import (
    discount_for,
    eligible_amount,
    max_redeemable,
    points_earned,
)
from backend.loyalty.ledger import LockedAccount
from backend.loyalty.rules import RulesVersion
from backend.loyalty.schemas import Balance
from backend.loyalty.tiers import QUALIFYING_SPEND, upgrade_tier
from backend.sales.lines import SoldLine, document_line, encode_lines, sold_lines
from backend.sales.schemas import PurchaseItem, PurchaseResponse
from db import sql
from db.deferred import DeferredWrites
from db.ids import new_id
from realtime.publisher import Outgoing


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
    # The till's Idempotency-Key whose stored answer the sale's response is (its scope is the
    # sale's terminal): carried by the purchase row, whose unique (terminal, key) refuses a
    # second sale under it.
    idempotency_key: str | None = None


async def settle_sale(
    sale: Sale,
    *,
    redeem: int = 0,
    captured: int = 0,
    paid_amount: int | None = None,
    buyer: Buyer | None = None,
) -> tuple[PurchaseResponse, list[Outgoing]]:
    """Record a sale: spend ``redeem`` points now (or count ``captured`` held ones), earn on
    what was paid, move the tier up if the spend reached it. Inside the caller's transaction,
    with the buyer locked here; or, for a sale that only earns, in one statement of its own
    with ``buyer`` read without a lock (``read_buyer``: the statement fails with
    ``AccountMoved`` if the account moved since).
    """
    rules = sale.rules.rules
    now = datetime.now(UTC)
    if buyer is None:
        buyer = await lock_buyer(
            sale.member_id, store_id=sale.store_id, since=tier_window(sale.rules)
        )
    account = buyer.account
    change = AccountChange(account, now=now)
    # The sale's own rows, whose results it never reads: sent with the ledger's statement.
    writes = DeferredWrites()
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
        clock=buyer.clock,
        items=sale.items,
        amount=sale.amount,
        base_points=base,
        rules=rules,
        purchase_id=purchase_id,
        shopper=buyer.shopper,
        usage=buyer.usage,
        writes=writes,
    )
    response = PurchaseResponse(
        purchase_id=purchase_id,
        member_id=sale.member_id,
        external_id=sale.external_id,
        amount=sale.amount,
        paid_amount=paid,
        currency=sale.currency,
        points_redeemed=spent,
        points_earned=base + sum(offer.points for offer in offers),
        offers_applied=coupons + offers,
        balance=change.balance,
    )
    day = buyer.clock.business_day(now)  # the store's: the accounting document's date
    by_campaign = {campaign.id: campaign.rule for campaign in sale.campaigns}
    lines = sold_lines(
        sale.items,
        rules=rules,
        base_points=base,
        extras=[(offer.points, by_campaign.get(offer.campaign_id)) for offer in offers],
    )
    await _record(sale, response, lines, now=now, day=day, into=writes)
    if buyer.zone_is_new:
        # The member's home zone is where they first bought (until they choose another).
        writes.add(_GIVE_ZONE, member_id=sale.member_id, time_zone=buyer.shopper.time_zone)
    await upgrade_tier(change, rules, spend=buyer.spend_before + paid, into=writes)
    context: dict[str, Any] = {
        "purchase_id": str(purchase_id),
        "store_id": str(sale.store_id),
        "paid_amount": paid,
        "currency": sale.currency,
    }
    # The store's figures and stream are folded from the committed purchase row
    # (backend.stores.folding): nothing here waits on a row that other sales share.
    _, envelopes = await change.finish(context=context, writes=writes)
    return response, envelopes


async def _record(
    sale: Sale,
    response: PurchaseResponse,
    lines: list[SoldLine],
    *,
    now: datetime,
    day: date,
    into: DeferredWrites,
) -> None:
    """The sale's rows: the purchase with its response (the stored answer of the key that
    asked for the sale, if any) and its lines, and the accounting document."""
    result = msgspec.to_builtins(response)
    earned, spent, paid = response.points_earned, response.points_redeemed, response.paid_amount
    into.add(
        _INSERT_PURCHASE,
        id=response.purchase_id,
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
        idempotency_key=sale.idempotency_key,
        lines=encode_lines(lines),
        created_at=now,
    )
    await record_document(
        type="sale",
        reference=response.purchase_id,
        occurred_at=now,
        business_date=day,  # the store's business day
        store_id=sale.store_id,
        currency=sale.currency,
        gross_amount=sale.amount,
        loyalty_discount=sale.amount - paid,
        points_issued=earned,
        points_redeemed=spent,
        points_liability_delta=earned - spent,
        lines=[document_line(line) for line in lines],
        into=into,
    )


_INSERT_PURCHASE = """
INSERT INTO purchase (id, store, terminal, member, external_id, amount, paid_amount, currency,
                      points_earned, points_redeemed, request_hash, result, checkout,
                      rules_version, refunded_amount, points_reversed, points_returned,
                      idempotency_key, lines, created_at)
VALUES ({id}, {store_id}, {terminal_id}, {member_id}, {external_id}, {amount}, {paid_amount},
        {currency}, {points_earned}, {points_redeemed}, {request_hash}, {result}::jsonb,
        {checkout_id}, {rules_version}, 0, 0, 0, {idempotency_key}, {lines}::jsonb, {created_at})
"""

_GIVE_ZONE = """
UPDATE member SET time_zone = {time_zone} WHERE id = {member_id} AND time_zone IS NULL
"""

# What a sale knows of its buyer (member ``m``, account ``a``, stats ``s``): the balance, the
# tier, stats and offers campaigns look at, the member's zone, and the qualifying spend inside
# the tier window that decides an upgrade.
BUYER_COLUMNS = f"""
a.id AS account_id, a.available, a.pending, a.held, a.last_event_seq, m.tier, m.birth_date,
m.time_zone AS member_zone, s.visits, s.last_visit_at, s.category_counts, s.stamps,
(SELECT {QUALIFYING_SPEND} FROM purchase p WHERE p.member = m.id AND p.created_at > {{since}})
    AS spend,
{USAGE_COLUMN}
"""  # noqa: S608 (the fixed QUALIFYING_SPEND and USAGE_COLUMN, bound values)

_LOCK_BUYER = f"""
SELECT {BUYER_COLUMNS}, st.time_zone AS store_zone, st.day_starts_at
FROM account a JOIN member m ON m.id = a.member LEFT JOIN member_stats s ON s.member = a.member
LEFT JOIN store st ON st.id = {{store_id}}
WHERE a.member = {{member_id}}
FOR UPDATE OF a
"""  # noqa: S608 (fixed fragments, bound values)


@dataclass(frozen=True, slots=True)
class Buyer:
    account: LockedAccount
    shopper: Shopper  # with the member's zone, or the store's when they have none yet
    usage: MemberUsage  # the member's offers: activated, used so many times
    spend_before: int  # qualifying spend inside the tier window, before this sale
    clock: StoreClock  # the store's
    zone_is_new: bool  # the member had no zone: this sale's store gives them its own


def tier_window(rules: RulesVersion) -> datetime:
    """Where the tier window that decides an upgrade starts under ``rules`` (the ``since`` of
    ``BUYER_COLUMNS``)."""
    return datetime.now(UTC) - timedelta(days=rules.rules.tier_window_days)


async def lock_buyer(member_id: uuid.UUID, *, store_id: uuid.UUID, since: datetime) -> Buyer:
    """``lock_account`` plus what the sale needs to know of the member and the store, in one
    round trip: the tier and stats campaigns target, the spend that decides an upgrade, the
    member's zone and the store's clock."""
    rows = await sql.fetch(_LOCK_BUYER, member_id=member_id, store_id=store_id, since=since)
    if not rows:
        raise MemberNotFound(f"member {member_id} has no account")
    return _buyer(member_id, store_id, rows[0], read_at_seq=None)


def read_buyer(
    member_id: uuid.UUID, store_id: uuid.UUID, row: Mapping[str, Any], *, locked: bool
) -> Buyer:
    """The buyer from a row of ``BUYER_COLUMNS`` with the store's ``store_zone`` and
    ``day_starts_at``, read with the account locked by the caller's transaction, or without
    a lock: a sale settled with that one is written only if the account is still at the seq
    read."""
    return _buyer(member_id, store_id, row, read_at_seq=None if locked else row["last_event_seq"])


def _buyer(
    member_id: uuid.UUID, store_id: uuid.UUID, row: Mapping[str, Any], *, read_at_seq: int | None
) -> Buyer:
    if row["store_zone"] is None:
        raise NotFound(f"store {store_id} does not exist")
    account = LockedAccount(
        id=row["account_id"],
        member_id=member_id,
        tier=row["tier"],
        balance=Balance(available=row["available"], pending=row["pending"], held=row["held"]),
        read_at_seq=read_at_seq,
    )
    return Buyer(
        account=account,
        shopper=shopper_from(member_id, row, default_zone=row["store_zone"]),
        usage=usage_from_column(row["offer_usage"]),
        spend_before=row["spend"],
        clock=StoreClock.of(row["store_zone"], row["day_starts_at"]),
        zone_is_new=row["member_zone"] is None,
    )


def check_items(items: Sequence[PurchaseItem], amount: int) -> None:
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
