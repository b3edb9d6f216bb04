"""Tiers by qualifying spend over a rolling window (thresholds and window in the rules).

Upgrades happen as soon as a purchase crosses a threshold; downgrades only when the periodic
evaluation (``evaluate_tiers``) finds the spend has fallen, so a refund does not demote a
member in the middle of their day.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from backend.loyalty.book import AccountChange
from backend.loyalty.ledger import lock_account
from backend.loyalty.rules import TIER_ORDER, ProgramRules
from backend.streams.member import MEMBERS
from db import sql
from db.deferred import DeferredWrites, write
from db.pool import engine
from realtime.publisher import EventPublisher

# Qualifying spend, the one definition: what was paid for the purchases ``p`` summed, less
# each refund's share of it (refunds reduce it in proportion to the amount refunded).
QUALIFYING_SPEND = (
    "COALESCE(SUM(p.paid_amount - p.paid_amount * p.refunded_amount / p.amount), 0)::bigint"
)

_SPEND = f"""
SELECT {QUALIFYING_SPEND} AS spend
FROM purchase p WHERE p.member = {{member_id}} AND p.created_at > {{since}}
"""  # noqa: S608 (the fixed QUALIFYING_SPEND, bound values)


def tier_for(spend: int, rules: ProgramRules) -> str:
    reached = "green"
    for tier in TIER_ORDER[1:]:
        if spend >= rules.tier_thresholds[tier]:
            reached = tier
    return reached


def rank(tier: str) -> int:
    return TIER_ORDER.index(tier)


def next_tier(spend: int, rules: ProgramRules) -> tuple[str | None, int]:
    """The next tier above what ``spend`` reaches, and the spend still missing."""
    current = rank(tier_for(spend, rules))
    if current + 1 >= len(TIER_ORDER):
        return None, 0
    tier = TIER_ORDER[current + 1]
    return tier, rules.tier_thresholds[tier] - spend


async def qualifying_spend(member_id: uuid.UUID, rules: ProgramRules, *, now: datetime) -> int:
    since = now - timedelta(days=rules.tier_window_days)
    rows = await sql.fetch(_SPEND, member_id=member_id, since=since)
    return int(rows[0]["spend"])


_SET_TIER = "UPDATE member SET tier = {tier} WHERE id = {member_id}"


async def set_tier(member_id: uuid.UUID, tier: str, into: DeferredWrites | None = None) -> None:
    await write(_SET_TIER, into, member_id=member_id, tier=tier)


async def upgrade_tier(
    change: AccountChange, rules: ProgramRules, *, spend: int, into: DeferredWrites
) -> None:
    """Move the tier up if ``spend`` (qualifying, this sale included) reached a higher one:
    written with the change's statement (``into``), whose event says so."""
    reached = tier_after(change.account.tier, spend, rules)
    if reached != change.account.tier:
        await set_tier(change.account.member_id, reached, into)
        change.event("tier.changed", {"from": change.account.tier, "to": reached})


def tier_after(tier: str, spend: int, rules: ProgramRules) -> str:
    """The tier of a member at ``tier`` once a sale makes their qualifying spend ``spend``: a
    higher one it reached, else the same (a sale never moves a member down)."""
    reached = tier_for(spend, rules)
    return reached if rank(reached) > rank(tier) else tier


# Only members above green can move at the evaluation: upgrades happen at the sale that
# reaches a tier, so a green member has nothing to lose here. Through member_above_green (a
# partial index), the work is the number of gold and platinum members, not of members.
_ABOVE_GREEN_SPEND = f"""
SELECT m.id, m.tier, (SELECT {QUALIFYING_SPEND} FROM purchase p
                      WHERE p.member = m.id AND p.created_at > {{since}}) AS spend
FROM member m
WHERE m.tier <> 'green' AND m.id > {{after}}
ORDER BY m.id LIMIT {{batch}}
"""  # noqa: S608 (the fixed QUALIFYING_SPEND, bound values)


async def evaluate_tiers(
    publisher: EventPublisher, rules: ProgramRules, *, now: datetime, batch: int = 500
) -> int:
    """Set the tier of every member above green from their spend (downgrades happen only
    here; a threshold lowered by new rules moves a member up at their next purchase)."""
    since = now - timedelta(days=rules.tier_window_days)
    changed = 0
    after = uuid.UUID(int=0)
    while True:
        rows = await sql.fetch(_ABOVE_GREEN_SPEND, since=since, after=after, batch=batch)
        if not rows:
            return changed
        after = rows[-1]["id"]
        for row in rows:
            tier = tier_for(int(row["spend"]), rules)
            if tier != row["tier"]:
                await _change_tier(publisher, row["id"], tier)
                changed += 1


async def _change_tier(publisher: EventPublisher, member_id: uuid.UUID, tier: str) -> None:
    async with engine().transaction():
        account = await lock_account(member_id)  # orders this with the member's other changes
        if account.tier == tier:
            return
        await set_tier(member_id, tier)
        events = await MEMBERS.append(
            member_id, [("tier.changed", {"from": account.tier, "to": tier})]
        )
    await publisher.publish(events)
