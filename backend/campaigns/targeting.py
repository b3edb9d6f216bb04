"""Who and when a campaign is for: tiers, stores, days of the week, hours, and a segment.

Days and hours are read on the wall clock of the store of the sale, in its own zone, at the
sale's instant, in every store at once: "Mon-Fri 07:00-11:00" (``days_of_week: [0, 1, 2, 3,
4]``, ``hours: {"from": "07:00", "to": "11:00"}``) is 07:00-11:00 in Kaliningrad and, hours
earlier in UTC, 07:00-11:00 in Vladivostok.

* A window whose ``to`` is earlier than its ``from`` crosses midnight and belongs to the day
  it starts: 22:00-02:00 with ``days_of_week: [0]`` is Monday 22:00 to Tuesday 02:00 (and
  not Monday 00:00-02:00). ``days_of_week`` alone means whole local days.
* Daylight saving, as the clock on the wall shows it. When clocks go forward the skipped
  wall times never show, so a window on the skipped hour is empty that day (02:00-03:00 in
  Berlin on the last Sunday of March), and one that reaches into it is shorter. When clocks
  go back the repeated wall times count once: their first pass is in the windows that hold
  them, the second pass (``fold=1`` once the instant is read in the zone) is in none of them,
  so "01:00-02:00" in New York on the first Sunday of November lasts one hour, not two.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

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
    """From ``from`` (included) to ``to`` (excluded), "HH:MM" on the store's local clock; a
    ``to`` earlier than ``from`` crosses midnight (the window belongs to the day it starts)."""

    from_: HourMinute = msgspec.field(name="from")
    to: HourMinute

    @property
    def crosses_midnight(self) -> bool:
        return _minutes(self.to) < _minutes(self.from_)

    def contains(self, moment: time) -> bool:
        now, start, end = moment.hour * 60 + moment.minute, _minutes(self.from_), _minutes(self.to)
        if start <= end:
            return start <= now < end
        return now >= start or now < end  # across midnight

    def started_yesterday(self, moment: time) -> bool:
        """Whether ``moment``, inside the window, is past the midnight the window crossed."""
        return self.crosses_midnight and moment.hour * 60 + moment.minute < _minutes(self.to)


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
            raise ValidationFailed(
                "targeting.hours: from and to are the same time (the window would be empty)",
                field="targeting.hours",
            )
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

    def applies_at(self, store_id: str, at: datetime, where: ZoneInfo) -> bool:
        """Where and when: the store, then the day of the week and the hours on the wall
        clock of ``where`` (the store's zone) at the instant ``at`` (rules: the module's
        docstring)."""
        if self.store_ids and uuid.UUID(store_id) not in self.store_ids:
            return False
        local = at.astimezone(where)
        wall = local.time().replace(tzinfo=None, fold=0)
        day = local.weekday()
        if self.hours is not None:
            # The second pass of a repeated wall time: its first pass was the window's.
            if not self.hours.contains(wall) or local.fold == 1:
                return False
            if self.hours.started_yesterday(wall):
                day = (day - 1) % 7
        return not self.days_of_week or day in self.days_of_week
