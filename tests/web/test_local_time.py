"""The pages' clock (backend/web/static/js/format.js) in a real browser, at fixed instants:
times read in a named zone whatever the device's, business days and DST as the backend's
``backend.local_time`` reads them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from playwright.async_api import Page

from backend.local_time import StoreClock, instant_of, zone
from tests.conftest import LiveServer
from tests.web.conftest import OpenPage

# Chromium, told its computer is in New York and its language is British English.
DEVICE = {"locale": "en-GB", "device_zone": "America/New_York"}


async def format_page(open_page: OpenPage, live_server: LiveServer) -> Page:
    return await open_page(f"{live_server.base_url}/staff", **DEVICE)


async def call(page: Page, function: str, *args: Any) -> Any:
    """``function(*args)`` of format.js, run in the page; an argument ``{"at": iso}`` is
    passed as a ``Date``; a refusal comes back as ``{"refused": message, "kind": class}``."""
    return await page.evaluate(
        """async ([name, args]) => {
          const format = await import('/static/js/format.js');
          const values = args.map((a) => (a && typeof a === 'object' && 'at' in a ? new Date(a.at) : a));
          try {
            const value = format[name](...values);
            return value instanceof Date ? value.toISOString() : value;
          } catch (error) {
            return { refused: error.message, kind: error.constructor.name };
          }
        }""",
        [function, list(args)],
    )


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def test_one_instant_reads_on_each_stores_clock_not_the_devices(
    open_page: OpenPage, live_server: LiveServer
) -> None:
    page = await format_page(open_page, live_server)
    # Sunday 22:00 in UTC is Monday 08:00 in Vladivostok and Monday 00:00 in Kaliningrad.
    sunday_night = "2026-12-06T22:00:00Z"
    assert await call(page, "time", sunday_night, "Asia/Vladivostok") == "08:00:00"
    assert await call(page, "time", sunday_night, "Europe/Kaliningrad") == "00:00:00"
    assert await call(page, "dateTime", sunday_night, "Asia/Vladivostok") == "7 Dec 2026, 08:00"
    assert await call(page, "localDate", "Asia/Vladivostok", {"at": sunday_night}) == "2026-12-07"
    assert await call(page, "calendarDay", "2026-12-07") == "Mon, 7 Dec 2026"
    # Without a zone (before the API named one) the device's clock: New York, 17:00.
    assert await call(page, "time", sunday_night, None) == "17:00:00"
    assert await call(page, "zoneLabel", "Asia/Vladivostok", {"at": sunday_night}) == (
        "Asia/Vladivostok (UTC+10)"
    )
    assert await call(page, "zoneLabel", "Europe/Kaliningrad", {"at": sunday_night}) == (
        "Europe/Kaliningrad (UTC+2)"
    )


async def test_the_business_day_turns_at_the_stores_day_start_hour(
    open_page: OpenPage, live_server: LiveServer
) -> None:
    page = await format_page(open_page, live_server)
    clock = StoreClock.of("Europe/Kaliningrad", 4)
    for at in (
        datetime(2026, 12, 6, 21, 59, tzinfo=UTC),  # 23:59 local
        datetime(2026, 12, 6, 22, 0, tzinfo=UTC),  # local midnight, before the 04:00 start
        datetime(2026, 12, 7, 1, 59, tzinfo=UTC),  # 03:59
        datetime(2026, 12, 7, 2, 0, tzinfo=UTC),  # 04:00: the next business day
    ):
        day = await call(page, "businessDay", "Europe/Kaliningrad", 4, {"at": iso(at)})
        assert day == clock.business_day(at).isoformat(), at
    # At local midnight in Vladivostok (14:00 UTC) without a day-start hour.
    for at, local_day in (
        (datetime(2026, 12, 6, 13, 59, tzinfo=UTC), date(2026, 12, 6)),
        (datetime(2026, 12, 6, 14, 0, tzinfo=UTC), date(2026, 12, 7)),
    ):
        day = await call(page, "businessDay", "Asia/Vladivostok", 0, {"at": iso(at)})
        assert (
            day
            == local_day.isoformat()
            == StoreClock.of("Asia/Vladivostok").business_day(at).isoformat()
        )


async def test_a_wall_clock_time_in_a_dst_zone_is_read_as_the_backend_reads_it(
    open_page: OpenPage, live_server: LiveServer
) -> None:
    page = await format_page(open_page, live_server)
    berlin = zone("Europe/Berlin")
    # The repeated hour (clocks go back on 25 October 2026) means its first occurrence.
    repeated = await call(page, "instantIn", "2026-10-25T02:30", "Europe/Berlin")
    assert repeated == iso(instant_of(datetime(2026, 10, 25, 2, 30), berlin))
    assert repeated == "2026-10-25T00:30:00.000Z"
    # Summer and winter either side of the change.
    for wall in (
        datetime(2026, 3, 29, 1, 59),
        datetime(2026, 3, 29, 3, 0),
        datetime(2026, 7, 1, 9),
    ):
        found = await call(page, "instantIn", wall.strftime("%Y-%m-%dT%H:%M"), "Europe/Berlin")
        assert found == iso(instant_of(wall, berlin)), wall
    # The skipped hour (clocks jump 02:00 -> 03:00 on 29 March 2026) names no instant.
    skipped = await call(page, "instantIn", "2026-03-29T02:30", "Europe/Berlin")
    assert skipped == {
        "refused": "2026-03-29 02:30 does not exist in Europe/Berlin: the clocks skip it",
        "kind": "NoSuchTime",
    }
    assert await call(page, "instantIn", "2026-12-07T08:00", "Asia/Vladivostok") == (
        "2026-12-06T22:00:00.000Z"
    )
    summer = {"at": "2026-07-01T12:00:00Z"}
    winter = {"at": "2026-01-15T12:00:00Z"}
    assert await call(page, "zoneLabel", "Europe/Berlin", summer) == "Europe/Berlin (UTC+2)"
    assert await call(page, "zoneLabel", "Europe/Berlin", winter) == "Europe/Berlin (UTC+1)"
