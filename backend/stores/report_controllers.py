"""HTTP for a store's charts (the console's reports page and the dashboard's hourly chart):
JSON, or CSV with ``?format=csv`` for a spreadsheet. Managers of the store and admins."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import FromPath, QueryParameter

from backend.auth.access import allow
from backend.auth.callers import Role, StaffCaller
from backend.errors import ValidationFailed
from backend.local_time import StoreClock
from backend.stores import service
from backend.stores.reports import (
    MAX_DAYS,
    PointsByDay,
    SalesByHour,
    days_csv,
    hours_csv,
    points_by_day,
    sales_by_hour,
)

MANAGERS = allow(Role.MANAGER, Role.ADMIN)
First = Annotated[date | None, QueryParameter(name="from", description="first business day")]
Last = Annotated[date | None, QueryParameter(name="to", description="last business day")]
Day = Annotated[
    date | None,
    QueryParameter(name="date", description="a business day of the store; default: its current"),
]


def _csv(text: str, name: str) -> Response[str]:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


async def _clock(caller: StaffCaller, store_id: uuid.UUID) -> StoreClock:
    store = await service.get_store_for(caller, store_id)  # the same access rule as its stats
    return StoreClock.of(store.time_zone, store.day_starts_at)


async def _by_hour(caller: StaffCaller, store_id: uuid.UUID, day: date | None) -> SalesByHour:
    clock = await _clock(caller, store_id)
    return await sales_by_hour(store_id, clock, day or clock.business_day(datetime.now(UTC)))


async def _by_day(
    caller: StaffCaller, store_id: uuid.UUID, first: date | None, last: date | None
) -> PointsByDay:
    clock = await _clock(caller, store_id)
    last = last or clock.business_day(datetime.now(UTC))
    first = first or last - timedelta(days=29)
    if first > last or (last - first).days >= MAX_DAYS:
        raise ValidationFailed(f"from must be on or before to, at most {MAX_DAYS} days")
    return await points_by_day(store_id, clock, first, last)


class StoreReportsController(Controller):
    path = "/v1/admin/stores/{store_id:uuid}/reports"
    tags = ["admin"]

    @get(
        "/sales-by-hour",
        opt=MANAGERS,
        summary="A business day's sales by local hour, beside the same weekday a week before",
    )
    async def by_hour(
        self,
        request: Request[StaffCaller, Any, Any],
        store_id: FromPath[uuid.UUID],
        day: Day = None,
    ) -> SalesByHour:
        return await _by_hour(request.user, store_id, day)

    @get("/sales-by-hour.csv", opt=MANAGERS, summary="The same, as CSV", media_type="text/csv")
    async def by_hour_csv(
        self,
        request: Request[StaffCaller, Any, Any],
        store_id: FromPath[uuid.UUID],
        day: Day = None,
    ) -> Response[str]:
        report = await _by_hour(request.user, store_id, day)
        return _csv(hours_csv(report), f"sales-by-hour-{report.day.isoformat()}")

    @get(
        "/points-by-day",
        opt=MANAGERS,
        summary=f"Sales and points earned, redeemed and reversed per business day "
        f"(at most {MAX_DAYS} days; default: the last 30)",
    )
    async def by_day(
        self,
        request: Request[StaffCaller, Any, Any],
        store_id: FromPath[uuid.UUID],
        first: First = None,
        last: Last = None,
    ) -> PointsByDay:
        return await _by_day(request.user, store_id, first, last)

    @get("/points-by-day.csv", opt=MANAGERS, summary="The same, as CSV", media_type="text/csv")
    async def by_day_csv(
        self,
        request: Request[StaffCaller, Any, Any],
        store_id: FromPath[uuid.UUID],
        first: First = None,
        last: Last = None,
    ) -> Response[str]:
        report = await _by_day(request.user, store_id, first, last)
        days = report.days
        return _csv(days_csv(report), f"points-by-day-{days[0].day}-{days[-1].day}")
