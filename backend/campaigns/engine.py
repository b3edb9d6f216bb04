"""Which campaigns a sale gets, in a deterministic, documented order (docs/campaigns.md).

1. Only campaigns in effect now, at this store, on this day and hour of the store's local
   clock, whose audience includes the member, that the member activated if they must, and
   whose per-member limit is not reached (for good, in the current period of the member's
   calendar, or for this birthday: ``backend.campaigns.limits``), are considered.
2. They are taken by priority (highest first), then by age (oldest first).
3. An exclusive campaign applies only if nothing applied before it, and nothing applies
   after it. Non-exclusive campaigns stack.
4. Each awards on the check itself: a multiplier multiplies the tier's base points, never
   another campaign's bonus, so the order never changes an amount.

The total limit is enforced when the sale is recorded (an atomic counter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from backend.campaigns.catalogue import LiveCampaign
from backend.campaigns.kinds import PURCHASE_KINDS, Basket, Shopper, StampCard
from backend.campaigns.limits import counting_period, used_up


@dataclass(frozen=True, slots=True)
class Award:
    campaign: LiveCampaign
    points: int
    stamps: int = 0
    period: date | None = None  # where the use counts (backend.campaigns.limits)


@dataclass(frozen=True, slots=True)
class MemberUsage:
    activated: frozenset[str]  # campaign ids the member activated
    uses: dict[str, int]  # campaign id -> times applied to this member
    # campaign id -> (the period or birthday last counted in, times applied in it)
    periods: dict[str, tuple[date, int]] = field(default_factory=dict)

    def uses_in(self, campaign_id: str, period: date) -> int:
        counted = self.periods.get(campaign_id)
        return counted[1] if counted is not None and counted[0] == period else 0


def evaluate(
    campaigns: list[LiveCampaign], basket: Basket, shopper: Shopper, usage: MemberUsage
) -> list[Award]:
    awards: list[Award] = []
    today = basket.members_date(shopper)
    # The catalogue lists them oldest first within a priority; a stable sort keeps that.
    for campaign in sorted(campaigns, key=lambda c: -c.priority):
        period = counting_period(campaign, shopper, today)
        if not _considered(campaign, basket, shopper, usage, period):
            continue
        if campaign.exclusive and awards:
            continue
        award = _award(campaign, basket, shopper, period)
        if award is None:
            continue
        awards.append(award)
        if campaign.exclusive:
            break
    return awards


def _considered(
    campaign: LiveCampaign,
    basket: Basket,
    shopper: Shopper,
    usage: MemberUsage,
    period: date | None,
) -> bool:
    key = str(campaign.id)
    if campaign.kind not in PURCHASE_KINDS or not campaign.in_effect(basket.at):
        return False
    if campaign.requires_activation and key not in usage.activated:
        return False
    if used_up(campaign, usage, period):
        return False
    return campaign.targeting.applies_at(basket.store_id, basket.at, basket.clock.zone) and (
        campaign.targeting.admits(shopper, basket.at)
    )


def _award(
    campaign: LiveCampaign, basket: Basket, shopper: Shopper, period: date | None
) -> Award | None:
    rule = campaign.rule
    if isinstance(rule, StampCard):
        stamps = rule.stamps_in(basket)
        return Award(campaign, 0, stamps, period) if stamps else None
    points = rule.award(basket, shopper)
    return Award(campaign, points, 0, period) if points > 0 else None
