"""Who and when a campaign is for: tiers, stores, days of the week, hours, and a segment.

Hours and days are in UTC (stores keep no time zone yet): "Mondays 7-11" for a Moscow shop
is ``days_of_week: [0]``, ``hours: {"from": "04:00", "to": "08:00"}``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Annotated

import msgspec

from backend.campaigns.kinds import Category, Shopper
from backend.errors import ValidationFailed
from backend.loyalty.rules import TIER_ORDER

# The program's own tiers (a campaign for a tier that does not exist could never apply).
Tier = Annotated[str, msgspec.Meta(pattern=f"^({'|'.join(TIER_ORDER)})$")]


# Bounded like every number of the API: these are compared in SQL as bigint and intervals.
Visits = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Days = Annotated[int, msgspec.Meta(ge=1, le=3650)]
HourMinute = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


class Hours(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """From ``from`` (included) to ``to`` (excluded), "HH:MM" in UTC; may cross midnight."""

    from_: HourMinute = msgspec.field(name="from")
    to: HourMinute

    def contains(self, moment: time) -> bool:
        now, start, end = moment.hour * 60 + moment.minute, _minutes(self.from_), _minutes(self.to)
        if start <= end:
            return start <= now < end
        return now >= start or now < end  # across midnight


class Segment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Members matched by what is stored about them; every given criterion must hold."""

    min_visits: Visits | None = None
    max_visits: Visits | None = None
    visited_within_days: Days | None = None
    inactive_for_days: Days | None = None
    favourite_category: Category | None = None

    def check(self) -> None:
        if (
            self.min_visits is not None
            and self.max_visits is not None
            and self.min_visits > self.max_visits
        ):
            raise ValidationFailed("segment: min_visits is more than max_visits")
        # Both together are a range ("last visit 7 to 30 days ago"), unless it is empty.
        if (
            self.visited_within_days is not None
            and self.inactive_for_days is not None
            and self.inactive_for_days >= self.visited_within_days
        ):
            raise ValidationFailed(
                "segment: inactive_for_days must be less than visited_within_days"
            )

    def matches(self, shopper: Shopper, at: datetime) -> bool:
        if self.min_visits is not None and shopper.visits < self.min_visits:
            return False
        if self.max_visits is not None and shopper.visits > self.max_visits:
            return False
        last = shopper.last_visit_at
        if self.visited_within_days is not None and (
            last is None or at - last > timedelta(days=self.visited_within_days)
        ):
            return False
        if self.inactive_for_days is not None and (
            last is not None and at - last < timedelta(days=self.inactive_for_days)
        ):
            return False
        return not (
            self.favourite_category is not None
            and shopper.favourite_category != self.favourite_category
        )


class Targeting(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Empty: every member, every store, all the time."""

    tiers: list[Tier] = msgspec.field(default_factory=list)
    store_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    days_of_week: list[Annotated[int, msgspec.Meta(ge=0, le=6)]] = msgspec.field(
        default_factory=list
    )  # 0 = Monday
    hours: Hours | None = None
    segment: Segment | None = None

    def check(self) -> None:
        if self.hours is not None and self.hours.from_ == self.hours.to:
            raise ValidationFailed("hours: from and to are the same time")
        if self.segment is not None:
            self.segment.check()

    @property
    def everyone(self) -> bool:
        """Whether every member is in the audience (so a broadcast reaches exactly them)."""
        return not self.tiers and self.segment is None

    def admits(self, shopper: Shopper, at: datetime) -> bool:
        """Who: tier and segment (the audience, whatever the time or store)."""
        if self.tiers and shopper.tier not in self.tiers:
            return False
        return self.segment is None or self.segment.matches(shopper, at)

    def applies_at(self, store_id: str, at: datetime) -> bool:
        """Where and when: store, day of week, hours (UTC)."""
        at = at.astimezone(UTC)
        if self.store_ids and uuid.UUID(store_id) not in self.store_ids:
            return False
        if self.days_of_week and at.weekday() not in self.days_of_week:
            return False
        return self.hours is None or self.hours.contains(at.time().replace(tzinfo=None))
