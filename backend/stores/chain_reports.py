"""The store charts for several stores at once: the whole chain for an admin, a manager's
own stores for a manager.

A chain spans zones (UTC+2 to UTC+10), so "the business day" and "the hour" are each
store's own: the day's sales by hour add every store's sales of its business day ``day``
by the store's local hour (09 is the morning rush wherever it happens, not one UTC instant),
and the points per day add each store's figures of its business day. The hours read in the
stores' business-day order when they all start their day at the same hour, else from 00.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from backend.auth.callers import Role, StaffCaller
from backend.local_time import StoreClock
from backend.stores.reports import (
    ChainPointsByDay,
    ChainSalesByHour,
    HourFigures,
    days_filled,
    hours_in_order,
)
from db import sql

_STORES = "SELECT id, time_zone, day_starts_at FROM store ORDER BY code"
_STORES_OF = (
    "SELECT id, time_zone, day_starts_at FROM store WHERE id = ANY({store_ids}::uuid[])"
    " ORDER BY code"
)
# The created_at index bounds the earliest store's day start to the latest store's day end
# (about 32 hours across the chain's zones); each sale then counts on its store's own day.
_BY_HOUR = """
SELECT extract(hour FROM p.created_at AT TIME ZONE st.time_zone)::int AS hour,
       count(*) AS sales, coalesce(sum(p.paid_amount), 0)::bigint AS amount
FROM purchase p JOIN store st ON st.id = p.store
WHERE p.created_at >= {start} AND p.created_at < {end}
  AND p.store = ANY({store_ids}::uuid[])
  AND ((p.created_at AT TIME ZONE st.time_zone)
       - make_interval(hours => st.day_starts_at))::date = {day}
GROUP BY 1
"""
_BY_DAY = """
SELECT day, sum(sales)::bigint AS sales, sum(sales_amount)::bigint AS sales_amount,
       sum(points_earned)::bigint AS points_earned,
       sum(points_redeemed)::bigint AS points_redeemed,
       sum(points_reversed)::bigint AS points_reversed
FROM store_day
WHERE store = ANY({store_ids}::uuid[]) AND day >= {first} AND day <= {last}
GROUP BY day
"""


class Stores:
    """The stores a caller's chain reports sum, with their clocks."""

    def __init__(self, rows: Sequence[sql.Row]) -> None:
        self.ids = [row["id"] for row in rows]
        self.clocks = [StoreClock.of(row["time_zone"], row["day_starts_at"]) for row in rows]

    @classmethod
    async def of(cls, caller: StaffCaller) -> Stores:
        if caller.role == Role.ADMIN:
            return cls(await sql.fetch(_STORES))
        return cls(await sql.fetch(_STORES_OF, store_ids=list(caller.store_ids)))

    def business_day(self, at: datetime) -> date:
        """The newest of the stores' business days at ``at``: today for the easternmost."""
        return max((clock.business_day(at) for clock in self.clocks), default=at.date())

    @property
    def day_starts_at(self) -> int:
        starts = {clock.day_starts_at for clock in self.clocks}
        return starts.pop() if len(starts) == 1 else 0


async def _hours(stores: Stores, day: date) -> list[HourFigures]:
    if not stores.ids:
        return hours_in_order([], 0)
    bounds = [clock.day_bounds(day) for clock in stores.clocks]
    rows = await sql.fetch_lagging(
        _BY_HOUR,
        start=min(start for start, _ in bounds),
        end=max(end for _, end in bounds),
        store_ids=stores.ids,
        day=day,
    )
    return hours_in_order(rows, stores.day_starts_at)


async def chain_sales_by_hour(stores: Stores, day: date) -> ChainSalesByHour:
    week_before = day - timedelta(days=7)
    return ChainSalesByHour(
        stores=len(stores.ids),
        day=day,
        week_before=week_before,
        hours=await _hours(stores, day),
        week_before_hours=await _hours(stores, week_before),
    )


async def chain_points_by_day(stores: Stores, first: date, last: date) -> ChainPointsByDay:
    rows = await sql.fetch_lagging(_BY_DAY, store_ids=stores.ids, first=first, last=last)
    return ChainPointsByDay(stores=len(stores.ids), days=days_filled(rows, first, last))
