"""The charts a manager looks at, as data: a store's sales by hour of a business day beside
the same weekday a week before, and its points earned and redeemed per business day.

Hours are the store's wall-clock hours, in the order its business day runs (a day starting at
02:00 reads 02, 03, ... 23, 00, 01); a day on which clocks change has one hour fewer or a
repeated hour counted once. Points per day are the folded day figures (``store_day``), so a
range costs one row per day whatever the day's volume.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta

import msgspec

from backend.http import csv_text
from backend.local_time import StoreClock, days_from
from db import sql

# A chart of a quarter at most: the figures are per day, kept for ever.
MAX_DAYS = 92

# The purchase table's created_at index bounds the day; the store's sales of that day are
# read (a report, on the replica when there is one).
_BY_HOUR = """
SELECT extract(hour FROM created_at AT TIME ZONE {zone})::int AS hour,
       count(*) AS sales, coalesce(sum(paid_amount), 0)::bigint AS amount
FROM purchase
WHERE created_at >= {start} AND created_at < {end} AND store = {store_id}
GROUP BY 1
"""

_BY_DAY = """
SELECT day, sales, sales_amount, points_earned, points_redeemed, points_reversed
FROM store_day
WHERE store = {store_id} AND day >= {first} AND day <= {last}
"""


class HourFigures(msgspec.Struct, frozen=True):
    hour: int  # the local hour the sales started in, 0-23
    sales: int
    amount: int  # paid, minor units


class SalesByHour(msgspec.Struct, frozen=True, kw_only=True):
    store_id: uuid.UUID
    time_zone: str
    day: date
    week_before: date
    hours: list[HourFigures]
    week_before_hours: list[HourFigures]


class ChainSalesByHour(msgspec.Struct, frozen=True, kw_only=True):
    """The stores' sales summed by each store's own local hour (09 is nine in the morning
    wherever the store is), of each store's business day ``day``."""

    stores: int  # how many stores are summed
    day: date
    week_before: date
    hours: list[HourFigures]
    week_before_hours: list[HourFigures]


class DayPoints(msgspec.Struct, frozen=True):
    day: date
    sales: int
    sales_amount: int
    points_earned: int
    points_redeemed: int
    points_reversed: int


class PointsByDay(msgspec.Struct, frozen=True, kw_only=True):
    store_id: uuid.UUID
    time_zone: str
    days: list[DayPoints]


class ChainPointsByDay(msgspec.Struct, frozen=True, kw_only=True):
    """The stores' day figures summed per business day (each store's own)."""

    stores: int
    days: list[DayPoints]


def hours_in_order(rows: Sequence[sql.Row], day_starts_at: int) -> list[HourFigures]:
    """Every hour of a business day starting at ``day_starts_at``, from ``rows`` of (hour,
    sales, amount); an hour without sales reads 0."""
    found = {row["hour"]: row for row in rows}
    order = [(day_starts_at + step) % 24 for step in range(24)]
    return [
        HourFigures(
            hour=hour,
            sales=found[hour]["sales"] if hour in found else 0,
            amount=found[hour]["amount"] if hour in found else 0,
        )
        for hour in order
    ]


async def _hours(store_id: uuid.UUID, clock: StoreClock, day: date) -> list[HourFigures]:
    start, end = clock.day_bounds(day)
    rows = await sql.fetch_lagging(
        _BY_HOUR, zone=clock.zone.key, start=start, end=end, store_id=store_id
    )
    return hours_in_order(rows, clock.day_starts_at)


async def sales_by_hour(store_id: uuid.UUID, clock: StoreClock, day: date) -> SalesByHour:
    week_before = day - timedelta(days=7)
    return SalesByHour(
        store_id=store_id,
        time_zone=clock.zone.key,
        day=day,
        week_before=week_before,
        hours=await _hours(store_id, clock, day),
        week_before_hours=await _hours(store_id, clock, week_before),
    )


async def points_by_day(
    store_id: uuid.UUID, clock: StoreClock, first: date, last: date
) -> PointsByDay:
    rows = await sql.fetch_lagging(_BY_DAY, store_id=store_id, first=first, last=last)
    return PointsByDay(
        store_id=store_id, time_zone=clock.zone.key, days=days_filled(rows, first, last)
    )


def days_filled(rows: Sequence[sql.Row], first: date, last: date) -> list[DayPoints]:
    """Every day from ``first`` to ``last``, from ``rows`` of day figures; a day without a
    row reads 0."""
    found = {row["day"]: row for row in rows}
    fields = ("sales", "sales_amount", "points_earned", "points_redeemed", "points_reversed")
    return [
        DayPoints(day, *(found[day][field] if day in found else 0 for field in fields))
        for day in days_from(first, last)
    ]


def hours_csv(report: SalesByHour | ChainSalesByHour) -> str:
    return csv_text(
        ["hour", "sales", "amount_minor", "week_before_sales", "week_before_amount_minor"],
        (
            (f"{now.hour:02d}", now.sales, now.amount, before.sales, before.amount)
            for now, before in zip(report.hours, report.week_before_hours, strict=True)
        ),
    )


def days_csv(report: PointsByDay | ChainPointsByDay) -> str:
    header = "day,sales,sales_amount_minor,points_earned,points_redeemed,points_reversed"
    return csv_text(
        header.split(","),
        (
            (d.day, d.sales, d.sales_amount, d.points_earned, d.points_redeemed, d.points_reversed)
            for d in report.days
        ),
    )
