"""HTTP for the charts (the console's reports page and the dashboard's hourly chart): JSON,
or CSV from the same path ending ``.csv`` for a spreadsheet. A store's: managers of the
store and admins; the chain's (``/v1/admin/reports``): admins for every store, a manager
for their stores; the program's liability and tiers: admins (they are the chain's only,
``backend.loyalty.program_days``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, TypeVar

from litestar import Controller, Response, get
from litestar.params import QueryParameter

from backend.auth.access import ADMINS, MANAGERS
from backend.auth.callers import StaffCaller
from backend.errors import ValidationFailed
from backend.http import PathId, StaffRequest, csv_download, days_span
from backend.loyalty.program_days import ProgramDays, liability_csv, program_days, tiers_csv
from backend.stores import service
from backend.stores.chain_reports import Stores, chain_points_by_day, chain_sales_by_hour
from backend.stores.reports import (
    MAX_DAYS,
    ChainPointsByDay,
    ChainSalesByHour,
    PointsByDay,
    SalesByHour,
    days_csv,
    hours_csv,
    points_by_day,
    sales_by_hour,
)

First = Annotated[date | None, QueryParameter(name="from", description="first business day")]
Last = Annotated[date | None, QueryParameter(name="to", description="last business day")]
Day = Annotated[
    date | None,
    QueryParameter(name="date", description="a business day of the store; default: its current"),
]


async def _by_hour(caller: StaffCaller, store_id: uuid.UUID, day: date | None) -> SalesByHour:
    clock = await service.clock_for(caller, store_id)
    return await sales_by_hour(store_id, clock, day or clock.business_day(datetime.now(UTC)))


async def _by_day(
    caller: StaffCaller, store_id: uuid.UUID, first: date | None, last: date | None
) -> PointsByDay:
    clock = await service.clock_for(caller, store_id)
    first, last = day_range(first, last, clock.business_day(datetime.now(UTC)))
    return await points_by_day(store_id, clock, first, last)


# A report over days: its CSV file is named by its span of days.
Days = TypeVar("Days", PointsByDay, ChainPointsByDay, ProgramDays)


def _hours_file(report: SalesByHour | ChainSalesByHour, name: str) -> Response[str]:
    """An hourly report as its CSV file, named by its day."""
    return csv_download(hours_csv(report), f"{name}-{report.day.isoformat()}")


def _days_file(report: Days, to_csv: Callable[[Days], str], name: str) -> Response[str]:
    """A report over days as its CSV file (``to_csv``'s table), named by its span of days."""
    return csv_download(to_csv(report), f"{name}-{days_span(report.days)}")


def _csv(path: str, summary: str = "The same, as CSV", opt: dict[str, Any] = MANAGERS) -> get:
    """A report's CSV route: a JSON route's ``.csv`` twin (by default), or a CSV of its own."""
    return get(path, opt=opt, summary=summary, media_type="text/csv")


def day_range(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The days asked for; by default the 30 up to ``today``."""
    last = last or today
    first = first or last - timedelta(days=29)
    if first > last or (last - first).days >= MAX_DAYS:
        raise ValidationFailed(f"from must be on or before to, at most {MAX_DAYS} days")
    return first, last


class StoreReportsController(Controller):
    path = "/v1/admin/stores/{store_id:uuid}/reports"
    tags = ["admin"]

    @get(
        "/sales-by-hour",
        opt=MANAGERS,
        summary="A business day's sales by local hour, beside the same weekday a week before",
    )
    async def by_hour(
        self, request: StaffRequest, store_id: PathId, day: Day = None
    ) -> SalesByHour:
        return await _by_hour(request.user, store_id, day)

    @_csv("/sales-by-hour.csv")
    async def by_hour_csv(
        self, request: StaffRequest, store_id: PathId, day: Day = None
    ) -> Response[str]:
        report = await _by_hour(request.user, store_id, day)
        return _hours_file(report, "sales-by-hour")

    @get(
        "/points-by-day",
        opt=MANAGERS,
        summary=f"Sales and points earned, redeemed and reversed per business day "
        f"(at most {MAX_DAYS} days; default: the last 30)",
    )
    async def by_day(
        self, request: StaffRequest, store_id: PathId, first: First = None, last: Last = None
    ) -> PointsByDay:
        return await _by_day(request.user, store_id, first, last)

    @_csv("/points-by-day.csv")
    async def by_day_csv(
        self, request: StaffRequest, store_id: PathId, first: First = None, last: Last = None
    ) -> Response[str]:
        report = await _by_day(request.user, store_id, first, last)
        return _days_file(report, days_csv, "points-by-day")


async def _chain_by_hour(caller: StaffCaller, day: date | None) -> ChainSalesByHour:
    stores = await Stores.of(caller)
    return await chain_sales_by_hour(stores, day or stores.business_day(datetime.now(UTC)))


async def _chain_by_day(
    caller: StaffCaller, first: date | None, last: date | None
) -> ChainPointsByDay:
    stores = await Stores.of(caller)
    first, last = day_range(first, last, stores.business_day(datetime.now(UTC)))
    return await chain_points_by_day(stores, first, last)


async def _program(first: date | None, last: date | None) -> ProgramDays:
    first, last = day_range(first, last, datetime.now(UTC).date())
    return await program_days(first, last)


class ChainReportsController(Controller):
    """The store charts summed over the caller's stores (the chain, for an admin), each
    store in its own business day and local hours; and the program's own charts."""

    path = "/v1/admin/reports"
    tags = ["admin"]

    @get(
        "/sales-by-hour",
        opt=MANAGERS,
        summary="The stores' sales by each store's local hour of its business day, beside the "
        "same weekday a week before",
    )
    async def chain_by_hour(self, request: StaffRequest, day: Day = None) -> ChainSalesByHour:
        return await _chain_by_hour(request.user, day)

    @_csv("/sales-by-hour.csv")
    async def chain_by_hour_csv(self, request: StaffRequest, day: Day = None) -> Response[str]:
        report = await _chain_by_hour(request.user, day)
        return _hours_file(report, "chain-sales-by-hour")

    @get(
        "/points-by-day",
        opt=MANAGERS,
        summary=f"The stores' sales and points per business day (at most {MAX_DAYS} days)",
    )
    async def chain_by_day(
        self, request: StaffRequest, first: First = None, last: Last = None
    ) -> ChainPointsByDay:
        return await _chain_by_day(request.user, first, last)

    @_csv("/points-by-day.csv")
    async def chain_by_day_csv(
        self, request: StaffRequest, first: First = None, last: Last = None
    ) -> Response[str]:
        report = await _chain_by_day(request.user, first, last)
        return _days_file(report, days_csv, "chain-points-by-day")

    @get(
        "/program-days",
        opt=ADMINS,
        summary="The points the members hold (outstanding liability) and the members per "
        f"tier at the end of each UTC day (at most {MAX_DAYS} days; default: the last 30)",
    )
    async def program(self, first: First = None, last: Last = None) -> ProgramDays:
        return await _program(first, last)

    @_csv("/points-liability.csv", "The outstanding points per day, as CSV", ADMINS)
    async def liability_csv(self, first: First = None, last: Last = None) -> Response[str]:
        report = await _program(first, last)
        return _days_file(report, liability_csv, "points-liability")

    @_csv("/members-by-tier.csv", "The members per tier per day, as CSV", ADMINS)
    async def tiers_csv(self, first: First = None, last: Last = None) -> Response[str]:
        report = await _program(first, last)
        return _days_file(report, tiers_csv, "members-by-tier")
