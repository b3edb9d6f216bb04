"""Local time: the IANA time zones of stores and members, and turning what people say in clock
time ("weekdays 07:00-11:00", "today", "on my birthday") into UTC instants and back.

Instants are stored and sent in UTC (RFC 3339 with an offset); a rule a person states in
clock time is judged in the zone of the store (campaign hours, business days) or of the
member (birthdays, limits per day). The zone database is the standard library's ``zoneinfo``,
fed by the ``tzdata`` package so that the image needs no system zone files.

Two choices about wall clocks that DST makes ambiguous, kept in one place:

* A wall-clock time that does not exist (skipped when clocks go forward) *begins* at the
  instant the clock jumps past it: a business day starting at 02:30 on that date starts at
  03:00. Where a person names such a time as a moment (a campaign's local start), it is
  refused instead, naming the field.
* A wall-clock time that happens twice (clocks go back) means its first occurrence.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

import msgspec

from backend.errors import ValidationFailed

# An IANA zone name ("Europe/Moscow", "Asia/Vladivostok", "UTC"); checked against the zone
# database where it is read (``zone_named``), as a pattern cannot know which names exist.
ZoneName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$",
        examples=["Europe/Moscow"],
        description="An IANA time zone name.",
    ),
]
# Sales before this local hour belong to the previous business day (shops open past midnight).
DayStartHour = Annotated[int, msgspec.Meta(ge=0, le=6)]


@functools.cache
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_zone(name: str) -> bool:
    return name in known_zones()


def zone_named(name: str, *, field: str) -> ZoneInfo:
    """The zone called ``name``; a name the zone database does not know is the caller's
    mistake, named by ``field``."""
    if not is_zone(name):
        raise ValidationFailed(
            f"{field}: {name!r} is not a time zone of the IANA database (e.g. Europe/Moscow)",
            field=field,
        )
    return zone(name)


@functools.cache
def zone(name: str) -> ZoneInfo:
    """A zone already known to be valid (read from the database)."""
    return ZoneInfo(name)


def exists(wall: datetime) -> bool:
    """Whether the naive wall-clock time ``wall`` (with ``tzinfo``) happens at all."""
    round_trip = wall.astimezone(UTC).astimezone(wall.tzinfo)
    return round_trip.replace(tzinfo=None) == wall.replace(tzinfo=None)


def instant_of(wall: datetime, where: ZoneInfo) -> datetime:
    """The UTC instant at which clocks in ``where`` first show ``wall`` (naive), or, if they
    skip it, the instant they jump past it."""
    first = wall.replace(tzinfo=where, fold=0)
    if exists(first):
        return first.astimezone(UTC)
    # In a gap fold=1 reads the wall time with the offset from before the jump, which lands
    # before the jump; the clock jumps at a whole minute, which the search finds.
    low = first.replace(fold=1).astimezone(UTC)
    high = first.astimezone(UTC)
    low, high = min(low, high), max(low, high)
    while high - low > timedelta(minutes=1):
        middle = low + (high - low) / 2
        if middle.astimezone(where).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    jump = high.replace(second=0, microsecond=0)
    return jump if jump.astimezone(where).replace(tzinfo=None) >= wall else high


def local_moment(wall: datetime, where: ZoneInfo, *, field: str) -> datetime:
    """A moment a person gave as a wall-clock time in a zone, as a UTC instant; a time the
    zone skips is refused (it names nothing), a repeated one is its first occurrence."""
    at = wall.replace(tzinfo=where, fold=0)
    if not exists(at):
        raise ValidationFailed(
            f"{field}: {wall:%Y-%m-%d %H:%M} does not exist in {where.key} (the clocks skip it)",
            field=field,
        )
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class StoreClock:
    """A store's calendar: its zone, and the hour its business day starts."""

    zone: ZoneInfo
    day_starts_at: int = 0

    @classmethod
    def of(cls, time_zone: str, day_starts_at: int = 0) -> StoreClock:
        return cls(zone=zone(time_zone), day_starts_at=day_starts_at)

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def business_day(self, at: datetime) -> date:
        """The business day ``at`` belongs to: its local date, or the day before when it is
        earlier than the day's start hour."""
        return (self.local(at) - timedelta(hours=self.day_starts_at)).date()

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """The UTC instants the business day ``day`` starts (included) and ends (excluded)."""
        start = time(hour=self.day_starts_at)
        return (
            instant_of(datetime.combine(day, start), self.zone),
            instant_of(datetime.combine(day + timedelta(days=1), start), self.zone),
        )


def local_date(at: datetime, where: ZoneInfo) -> date:
    return at.astimezone(where).date()


def days_from(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last``, both included (a report's x axis)."""
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
