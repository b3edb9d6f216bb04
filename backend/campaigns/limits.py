"""Per-member limits: for a campaign's whole life, per period of the member's calendar, and
once per birthday.

A period limit ("once a day", ``per_member_limit: 1, per_member_period: "day"``) counts the
uses in the period the sale falls in on the *member's* local calendar (their home zone): a
day from local midnight to midnight, an ISO week from Monday, a month, a year. A birthday
campaign pays once per birthday: its uses count per occurrence (the date of the birthday
whose window the sale is in), so a window of ±3 days around 31 December still pays once.

``member_offer`` keeps, per member and campaign, the lifetime ``uses`` and the uses in one
period (``period_start``, the first day of the period or the birthday, and
``period_uses``); a use in a new period starts that count again at 1. The member's sales
serialize on their account row (``lock_buyer``), so reading the count and adding to it
cannot interleave with another sale of theirs.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec

from backend.campaigns.kinds import Birthday, Shopper

if TYPE_CHECKING:
    from backend.campaigns.catalogue import LiveCampaign
    from backend.campaigns.engine import MemberUsage

Period = Annotated[
    Literal["day", "week", "month", "year"],
    msgspec.Meta(
        description="The per-member limit counts per local day, ISO week (Monday first), "
        "month or year of the member's home zone; absent: for the campaign's whole life."
    ),
]


def period_start(period: str, day: date) -> date:
    """The first day of the ``period`` that ``day`` is in."""
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    raise ValueError(f"unknown period {period!r}")


def counting_period(campaign: LiveCampaign, shopper: Shopper, today: date) -> date | None:
    """Where a use on ``today`` (the member's local date) counts: the birthday it
    celebrates, or the first day of the limit's period; None when the campaign counts only
    lifetimes."""
    if isinstance(campaign.rule, Birthday):
        if shopper.birth_date is None:
            return None
        return campaign.rule.occurrence(shopper.birth_date, today)
    if campaign.per_member_period is not None:
        return period_start(campaign.per_member_period, today)
    return None


def period_limit(campaign: LiveCampaign) -> int | None:
    """How many uses a period (or a birthday) allows; None: no limit per period."""
    if isinstance(campaign.rule, Birthday):
        return 1
    if campaign.per_member_period is not None:
        return campaign.per_member_limit
    return None


def used_up(campaign: LiveCampaign, usage: MemberUsage, period: date | None) -> bool:
    """Whether the member has had all the uses the campaign allows them, now."""
    key = str(campaign.id)
    lifetime = campaign.per_member_limit if campaign.per_member_period is None else None
    if lifetime is not None and usage.uses.get(key, 0) >= lifetime:
        return True
    allowed = period_limit(campaign)
    if allowed is None or period is None:
        return False
    return usage.uses_in(key, period) >= allowed
