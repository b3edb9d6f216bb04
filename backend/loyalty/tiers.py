"""Tiers and their earn rates (defaults of the program: Green 5 %, Gold 7 %, Platinum 10 %)."""

from __future__ import annotations

from typing import NamedTuple


class Tier(NamedTuple):
    name: str
    # Lifetime points needed to reach the tier.
    threshold: int
    earn_percent: int


TIERS: tuple[Tier, ...] = (
    Tier("green", 0, 5),
    Tier("gold", 1_000, 7),
    Tier("platinum", 5_000, 10),
)
_BY_NAME = {tier.name: tier for tier in TIERS}


def earn_percent(tier_name: str) -> int:
    return _BY_NAME[tier_name].earn_percent


def progress_for(lifetime_earned: int) -> tuple[str | None, int]:
    """The next tier above what ``lifetime_earned`` reaches, and the points still missing."""
    for tier in TIERS:
        if lifetime_earned < tier.threshold:
            return tier.name, tier.threshold - lifetime_earned
    return None, 0
