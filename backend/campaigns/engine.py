"""Which campaigns a sale gets, in a deterministic, documented order (docs/campaigns.md).

1. Only campaigns in effect now, at this store, on this day and hour, whose audience
   includes the member, that the member activated if they must, and whose per-member
   limit is not reached, are considered.
2. They are taken by priority (highest first), then by age (oldest first).
3. An exclusive campaign applies only if nothing applied before it, and nothing applies
   after it. Non-exclusive campaigns stack.
4. Each awards on the check itself: a multiplier multiplies the tier's base points, never
   another campaign's bonus, so the order never changes an amount.

The total limit is enforced when the sale is recorded (an atomic counter).
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.campaigns.catalogue import LiveCampaign
from backend.campaigns.kinds import PURCHASE_KINDS, Basket, Shopper, StampCard


@dataclass(frozen=True, slots=True)
class Award:
    campaign: LiveCampaign
    points: int
    stamps: int = 0


@dataclass(frozen=True, slots=True)
class MemberUsage:
    activated: frozenset[str]  # campaign ids the member activated
    uses: dict[str, int]  # campaign id -> times applied to this member


def evaluate(
    campaigns: list[LiveCampaign], basket: Basket, shopper: Shopper, usage: MemberUsage
) -> list[Award]:
    awards: list[Award] = []
    # The catalogue lists them oldest first within a priority; a stable sort keeps that.
    for campaign in sorted(campaigns, key=lambda c: -c.priority):
        if not _considered(campaign, basket, shopper, usage):
            continue
        if campaign.exclusive and awards:
            continue
        award = _award(campaign, basket, shopper)
        if award is None:
            continue
        awards.append(award)
        if campaign.exclusive:
            break
    return awards


def _considered(
    campaign: LiveCampaign, basket: Basket, shopper: Shopper, usage: MemberUsage
) -> bool:
    key = str(campaign.id)
    if campaign.kind not in PURCHASE_KINDS or not campaign.in_effect(basket.at):
        return False
    if campaign.requires_activation and key not in usage.activated:
        return False
    limit = campaign.per_member_limit
    if limit is not None and usage.uses.get(key, 0) >= limit:
        return False
    return campaign.targeting.applies_at(basket.store_id, basket.at) and (
        campaign.targeting.admits(shopper, basket.at)
    )


def _award(campaign: LiveCampaign, basket: Basket, shopper: Shopper) -> Award | None:
    rule = campaign.rule
    if isinstance(rule, StampCard):
        stamps = rule.stamps_in(basket)
        return Award(campaign, 0, stamps) if stamps else None
    points = rule.award(basket, shopper)
    return Award(campaign, points) if points > 0 else None
