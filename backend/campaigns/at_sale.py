"""Campaigns and coupons at a sale, inside the sale's transaction.

No statement of its own for what a campaign reads or writes: the member, their stats and
their offers' usage come with the sale's read of its buyer (``backend.sales.sale``), and
the visit, the uses counted and the coupons a stamp card completes go with the ledger's
statement (``DeferredWrites``). Only a campaign's total limit (a share taken now, held
until commit) and the coupons a till sends (locked, then marked used) are statements of
their own, and a sale with either runs in a transaction with its buyer locked.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from backend.campaigns.catalogue import LiveCampaign
from backend.campaigns.engine import Award, MemberUsage, evaluate
from backend.campaigns.kinds import Basket, Reward, Shopper, StampCard
from backend.campaigns.schemas import AppliedOffer
from backend.campaigns.total_limit import take_one
from backend.campaigns.usage import load_usage
from backend.errors import MemberNotFound, NotFound, ValidationFailed
from backend.local_time import StoreClock
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.earning import CheckLine
from backend.loyalty.rules import ProgramRules
from db import sql
from db.deferred import DeferredWrites
from db.tables import MemberOffer

COUPON_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at the till
COUPON_VALID_DAYS = 30

_SHOPPER = """
SELECT m.tier, m.birth_date, m.time_zone AS member_zone,
       s.visits, s.last_visit_at, s.category_counts, s.stamps,
       st.time_zone AS store_zone, st.day_starts_at
FROM member m LEFT JOIN member_stats s ON s.member = m.id
LEFT JOIN store st ON st.id = {store_id}::uuid
WHERE m.id = {member_id}
"""
_RECORD_VISIT = """
INSERT INTO member_stats (member, visits, last_visit_at, category_counts, stamps)
VALUES ({member_id}, 1, {at}, {category_counts}::jsonb, {stamps}::jsonb)
ON CONFLICT (member) DO UPDATE SET
    visits = member_stats.visits + 1,
    last_visit_at = EXCLUDED.last_visit_at,
    category_counts = (
        SELECT COALESCE(jsonb_object_agg(key, total), '{{}}'::jsonb) FROM (
            SELECT key, SUM(value::bigint) AS total FROM (
                SELECT * FROM jsonb_each_text(member_stats.category_counts)
                UNION ALL SELECT * FROM jsonb_each_text(EXCLUDED.category_counts)
            ) both_counts GROUP BY key
        ) summed
    ),
    stamps = EXCLUDED.stamps
"""


def new_coupon_code() -> str:
    return "".join(secrets.choice(COUPON_ALPHABET) for _ in range(10))


async def _shopper_row(member_id: uuid.UUID, store_id: uuid.UUID | None) -> sql.Row:
    rows = await sql.fetch(_SHOPPER, member_id=member_id, store_id=store_id)
    if not rows:  # a member's token outliving the member (their rows emptied)
        raise MemberNotFound(f"member {member_id} does not exist")
    return rows[0]


async def load_shopper(member_id: uuid.UUID) -> Shopper:
    return shopper_from(member_id, await _shopper_row(member_id, None))


async def load_shopper_at(member_id: uuid.UUID, store_id: uuid.UUID) -> tuple[Shopper, StoreClock]:
    """The shopper as a sale in ``store_id`` would see them, and the store's clock; a member
    without a zone yet is judged in the store's (their first sale would give them it)."""
    row = await _shopper_row(member_id, store_id)
    if row["store_zone"] is None:
        raise NotFound(f"store {store_id} does not exist")
    clock = StoreClock.of(row["store_zone"], row["day_starts_at"])
    return shopper_from(member_id, row, default_zone=row["store_zone"]), clock


def shopper_from(
    member_id: uuid.UUID, row: Mapping[str, Any], *, default_zone: str | None = None
) -> Shopper:
    """A shopper from a row with the member's tier, birth date and zone, and their stats;
    ``default_zone`` stands in for a zone the member does not have yet."""
    counts: dict[str, int] = sql.loaded_json(row["category_counts"]) or {}
    return Shopper(
        member_id=str(member_id),
        tier=row["tier"],
        visits=row["visits"] or 0,
        last_visit_at=row["last_visit_at"],
        favourite_category=max(counts, key=lambda c: (counts[c], c)) if counts else None,
        birth_date=row["birth_date"],
        stamps=sql.loaded_json(row["stamps"]) or {},
        time_zone=row["member_zone"] or default_zone,
    )


async def use_coupons(
    member_id: uuid.UUID, codes: list[str], items: Sequence[CheckLine], *, now: datetime
) -> tuple[int, list[AppliedOffer]]:
    """Mark the coupons used; each takes one item of its category off, up to its value."""
    if not codes:
        return 0, []
    if len(set(codes)) != len(codes):
        raise ValidationFailed("a coupon is listed twice")
    rows = await sql.fetch(
        "SELECT o.id, o.coupon_code, o.status, o.valid_until, c.id AS campaign, c.name, c.kind, "
        "c.rule FROM member_offer o JOIN campaign c ON c.id = o.campaign "
        "WHERE o.member = {member_id} AND o.coupon_code = ANY({codes}) FOR UPDATE OF o",
        member_id=member_id,
        codes=codes,
    )
    found = {r["coupon_code"]: r for r in rows}
    unused = [i for i in items for _ in range(i.quantity)]
    applied = []
    for code in codes:
        row = found.get(code)
        if row is None or row["status"] != "available" or row["valid_until"] <= now:
            raise ValidationFailed(f"coupon {code} is not yours, used or expired", coupon=code)
        rule = msgspec.convert(sql.loaded_json(row["rule"]), StampCard | Reward)
        category = rule.category
        value = rule.reward_max_value if isinstance(rule, StampCard) else rule.max_value
        candidates = [i for i in unused if i.category == category]
        if not candidates:
            raise ValidationFailed(
                f"coupon {code} is for an item of {category!r}, and the check has none",
                coupon=code,
            )
        item = min(candidates, key=lambda i: i.unit_price)
        unused.remove(item)
        discount = min(item.unit_price, value)
        await MemberOffer.update(
            {MemberOffer.status: "used", MemberOffer.uses: 1, MemberOffer.updated_at: now}
        ).where(MemberOffer.id == row["id"])
        applied.append(
            AppliedOffer(
                campaign_id=row["campaign"], name=row["name"], kind="coupon", discount=discount
            )
        )
    return sum(a.discount for a in applied), applied


async def apply_campaigns(
    change: AccountChange,
    campaigns: list[LiveCampaign],
    *,
    store_id: uuid.UUID,
    clock: StoreClock,
    items: Sequence[CheckLine],
    amount: int,
    base_points: int,
    rules: ProgramRules,
    purchase_id: uuid.UUID,
    shopper: Shopper,
    usage: MemberUsage,
    writes: DeferredWrites,
) -> list[AppliedOffer]:
    """Award what applies (points on their own ledger entries), count the uses and the visit
    and issue the coupons earned (with the sale's ``writes``). ``usage``: the member's offers
    as the sale read them with its buyer."""
    member_id = change.account.member_id
    now = change.now
    if change.account.read_at_seq is not None and any(c.total_limit is not None for c in campaigns):
        # A total limit's share is taken now and held until commit: only in a transaction
        # with the buyer locked (backend.till.purchases sends such a sale that way).
        raise AssertionError("a campaign with a total limit at a sale read without a lock")
    basket = Basket(
        store_id=str(store_id),
        clock=clock,
        at=now,
        amount=amount,
        items=items,
        base_points=base_points,
    )
    awards = evaluate(campaigns, basket, shopper, usage) if campaigns else []
    counted: set[uuid.UUID] = set()
    if awards and awards[0].campaign.exclusive:
        if await _count_use(awards[0], member_id, now, writes):
            counted.add(awards[0].campaign.id)
        else:
            # The exclusive winner's total limit ran out just now: the others get their turn.
            spent = awards[0].campaign.id
            awards = evaluate([c for c in campaigns if c.id != spent], basket, shopper, usage)
    stamps = dict(shopper.stamps)
    applied: list[AppliedOffer] = []
    for award in awards:
        if award.campaign.id not in counted and not await _count_use(award, member_id, now, writes):
            continue  # the total limit ran out just now
        campaign = award.campaign
        cause = Cause("campaign", campaign.id, f"{campaign.kind}: {campaign.name}")
        await change.earn(award.points, cause, rules, purchase_id)
        if isinstance(campaign.rule, StampCard):
            _stamp(change, campaign, campaign.rule, award.stamps, stamps, now, writes)
        applied.append(
            AppliedOffer(
                campaign_id=campaign.id,
                name=campaign.name,
                kind=campaign.kind,
                points=award.points,
                stamps=award.stamps,
            )
        )
    counts = Counter[str]()
    for item in items:
        counts[item.category] += item.quantity
    writes.add(
        _RECORD_VISIT,
        member_id=member_id,
        at=now,
        category_counts=msgspec.json.encode(dict(counts)).decode(),
        stamps=msgspec.json.encode(stamps).decode(),
    )
    return applied


# One use, for good and in the award's period: a use in another period than the one counted
# so far starts that count again. Both go with the sale's ledger statement, so both see the
# rows as they were before it: the UPDATE counts on the member's row if there is one, the
# INSERT makes it if there is none. The member's account, locked by the sale or checked
# unmoved by its statement, keeps two of their sales from reading and counting at once.
_COUNT_MEMBER_USE = """
UPDATE member_offer SET
    uses = uses + 1,
    period_uses = CASE WHEN period_start IS NOT DISTINCT FROM {period}::date
        THEN period_uses + 1 ELSE 1 END,
    period_start = {period}::date,
    updated_at = {now}
WHERE member = {member_id} AND campaign = {campaign_id} AND coupon_code IS NULL
"""
_FIRST_MEMBER_USE = """
INSERT INTO member_offer
    (id, campaign, member, status, uses, period_start, period_uses, created_at, updated_at)
SELECT {id}, {campaign_id}, {member_id}, 'used', 1, {period}::date, 1, {now}, {now}
WHERE NOT EXISTS (SELECT 1 FROM member_offer
    WHERE member = {member_id} AND campaign = {campaign_id} AND coupon_code IS NULL)
"""


async def _count_use(
    award: Award, member_id: uuid.UUID, now: datetime, writes: DeferredWrites
) -> bool:
    campaign = award.campaign
    if campaign.total_limit is not None and not await take_one(campaign.id, member_id):
        return False
    if (
        campaign.per_member_limit is not None
        or campaign.requires_activation
        or award.period is not None
    ):
        params = {
            "now": now,
            "member_id": member_id,
            "campaign_id": campaign.id,
            "period": award.period,
        }
        writes.add(_COUNT_MEMBER_USE, **params)
        writes.add(_FIRST_MEMBER_USE, id=uuid.uuid4(), **params)
    return True


def _stamp(
    change: AccountChange,
    campaign: LiveCampaign,
    rule: StampCard,
    earned: int,
    stamps: dict[str, int],
    now: datetime,
    writes: DeferredWrites,
) -> None:
    key = str(campaign.id)
    total = stamps.get(key, 0) + earned
    while total >= rule.stamps_needed:
        total -= rule.stamps_needed
        coupon = new_coupon(campaign.id, change.account.member_id, now=now)
        writes.add(
            _INSERT_COUPON,
            id=coupon.id,
            campaign_id=campaign.id,
            member_id=change.account.member_id,
            code=coupon.coupon_code,
            valid_until=coupon.valid_until,
            now=now,
        )
        change.event("offer.available", offer_event(campaign.id, campaign.name, coupon))
    stamps[key] = total
    change.event(
        "stamps.updated",
        {"campaign_id": key, "name": campaign.name, "stamps": total, "of": rule.stamps_needed},
    )


async def issue_coupon(
    campaign_id: uuid.UUID, member_id: uuid.UUID, *, now: datetime, valid_days: int = 30
) -> MemberOffer:
    coupon = new_coupon(campaign_id, member_id, now=now, valid_days=valid_days)
    await coupon.save()
    return coupon


def new_coupon(
    campaign_id: uuid.UUID, member_id: uuid.UUID, *, now: datetime, valid_days: int = 30
) -> MemberOffer:
    """A coupon not saved yet (its id and code are set)."""
    return MemberOffer(
        campaign=campaign_id,
        member=member_id,
        status="available",
        uses=0,
        coupon_code=new_coupon_code(),
        valid_until=now + timedelta(days=valid_days),
        created_at=now,
        updated_at=now,
    )


_INSERT_COUPON = """
INSERT INTO member_offer (id, campaign, member, status, uses, period_uses, coupon_code,
                          valid_until, created_at, updated_at)
VALUES ({id}, {campaign_id}, {member_id}, 'available', 0, 0, {code}, {valid_until}, {now}, {now})
"""


def offer_event(campaign_id: uuid.UUID, name: str, coupon: MemberOffer | None) -> dict[str, Any]:
    return {
        "campaign_id": str(campaign_id),
        "name": name,
        "coupon_code": coupon.coupon_code if coupon else None,
        "valid_until": coupon.valid_until.isoformat() if coupon and coupon.valid_until else None,
    }


async def preview_offers(
    campaigns: list[LiveCampaign],
    *,
    member_id: uuid.UUID,
    store_id: uuid.UUID,
    items: Sequence[CheckLine],
    amount: int,
    base_points: int,
    at: datetime | None = None,
) -> list[AppliedOffer]:
    """What would apply to this check now (a checkout's quote); changes nothing."""
    if not campaigns:
        return []
    shopper, clock = await load_shopper_at(member_id, store_id)
    basket = Basket(
        store_id=str(store_id),
        clock=clock,
        at=at or datetime.now(UTC),
        amount=amount,
        items=items,
        base_points=base_points,
    )
    awards = evaluate(campaigns, basket, shopper, await load_usage(member_id))
    return [
        AppliedOffer(
            campaign_id=a.campaign.id,
            name=a.campaign.name,
            kind=a.campaign.kind,
            points=a.points,
            stamps=a.stamps,
        )
        for a in awards
    ]
