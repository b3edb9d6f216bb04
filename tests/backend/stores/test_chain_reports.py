"""The store charts for the chain (an admin: every store) or a manager's stores: each store's
sales counted on its own business day and by its own local hour, and its day figures summed
per business day; checked against a recount from the purchase rows. The clock is set by the
tests: a store in Vladivostok (UTC+10, days from 02:00) and one in Kaliningrad (UTC+2)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import httpx

from backend.local_time import StoreClock
from db import sql
from tests.clock import at
from tests.conftest import LiveServer
from tests.factories import figures_folded, hire, log_in, open_till, sell

_SALES = """
SELECT p.store, p.created_at, p.paid_amount, p.points_earned, p.points_redeemed,
       st.time_zone, st.day_starts_at
FROM purchase p JOIN store st ON st.id = p.store
"""


async def _recount(stores: set[object]) -> list[tuple[date, int, int, object, int, int]]:
    """Each sale of ``stores``: its store's business day and local hour, amount, store,
    points earned and redeemed."""
    found = []
    for row in await sql.fetch(_SALES):
        if row["store"] not in stores:
            continue
        clock = StoreClock.of(row["time_zone"], row["day_starts_at"])
        found.append(
            (
                clock.business_day(row["created_at"]),
                clock.local(row["created_at"]).hour,
                int(row["paid_amount"]),
                row["store"],
                int(row["points_earned"]),
                int(row["points_redeemed"]),
            )
        )
    return found


def _by_hour(
    sales: list[tuple[date, int, int, object, int, int]], day: date
) -> dict[int, list[int]]:
    hours: dict[int, list[int]] = {}
    for sold_on, hour, amount, *_ in sales:
        if sold_on == day:
            figures = hours.setdefault(hour, [0, 0])
            figures[0] += 1
            figures[1] += amount
    return hours


async def test_the_chain_adds_each_stores_own_day_and_hour_and_a_manager_sees_theirs(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    east = await open_till(time_zone="Asia/Vladivostok", day_starts_at=2)
    west = await open_till(time_zone="Europe/Kaliningrad")
    member = await log_in(client, live_server.sms)
    monday = date(2030, 1, 14)
    sales = [
        (east, datetime(2030, 1, 7, 0, 10, tzinfo=UTC), 35000),  # Vladivostok 10:10, Mon 7th
        (west, datetime(2030, 1, 7, 8, 5, tzinfo=UTC), 12000),  # Kaliningrad 10:05, Mon 7th
        (east, datetime(2030, 1, 13, 23, 30, tzinfo=UTC), 18000),  # Vladivostok 09:30, Mon
        (west, datetime(2030, 1, 14, 7, 40, tzinfo=UTC), 22000),  # Kaliningrad 09:40, Mon
        (east, datetime(2030, 1, 14, 15, 30, tzinfo=UTC), 20000),  # Tue 01:30: still Monday
        (west, datetime(2030, 1, 14, 22, 30, tzinfo=UTC), 9000),  # Tue 00:30: Tuesday
        (east, datetime(2030, 1, 14, 16, 30, tzinfo=UTC), 10000),  # Tue 02:30: Tuesday
    ]
    for till, when, amount in sales:
        with at(when):
            assert (await sell(client, till, member, amount)).status_code == 201
    await figures_folded()
    with at(datetime(2030, 1, 14, 23, 0, tzinfo=UTC)):
        admin = await hire(client, "admin")
        manager = await hire(client, "manager", [west.store_id])
        chain = await client.get(
            "/v1/admin/reports/sales-by-hour", params={"date": "2030-01-14"}, headers=admin.headers
        )
        mine = await client.get(
            "/v1/admin/reports/sales-by-hour",
            params={"date": "2030-01-14"},
            headers=manager.headers,
        )
        sheet = await client.get(
            "/v1/admin/reports/sales-by-hour.csv",
            params={"date": "2030-01-14"},
            headers=admin.headers,
        )
        days = await client.get(
            "/v1/admin/reports/points-by-day",
            params={"from": "2030-01-06", "to": "2030-01-15"},
            headers=admin.headers,
        )
        days_sheet = await client.get(
            "/v1/admin/reports/points-by-day.csv",
            params={"from": "2030-01-06", "to": "2030-01-15"},
            headers=manager.headers,
        )
        barista = await hire(client, "barista", [west.store_id])
        refused = await client.get("/v1/admin/reports/points-by-day", headers=barista.headers)
    assert refused.status_code == 403
    assert chain.status_code == 200, chain.text
    report = chain.json()
    assert (report["stores"], report["day"], report["week_before"]) == (
        2,
        "2030-01-14",
        "2030-01-07",
    )
    # The stores start their days at different hours: the hours read from 00.
    assert [h["hour"] for h in report["hours"]] == list(range(24))

    every = await _recount({east.store_id, west.store_id})
    shown = {h["hour"]: [h["sales"], h["amount"]] for h in report["hours"] if h["sales"]}
    before = {
        h["hour"]: [h["sales"], h["amount"]] for h in report["week_before_hours"] if h["sales"]
    }
    assert shown == _by_hour(every, monday)
    assert before == _by_hour(every, monday - timedelta(days=7))
    # The morning of both stores adds up at their local 09, though eight hours apart.
    assert shown == {9: [2, 40000], 1: [1, 20000]}  # 00:30 in Kaliningrad: its Tuesday
    assert before == {10: [2, 47000]}

    theirs = await _recount({west.store_id})
    assert mine.json()["stores"] == 1
    assert {h["hour"]: [h["sales"], h["amount"]] for h in mine.json()["hours"] if h["sales"]} == (
        _by_hour(theirs, monday)
    )

    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert 'filename="chain-sales-by-hour-2030-01-14.csv"' in sheet.headers["content-disposition"]
    assert rows[9] == {
        "hour": "09",
        "sales": "2",
        "amount_minor": "40000",
        "week_before_sales": "0",
        "week_before_amount_minor": "0",
    }

    assert days.status_code == 200, days.text
    per_day: dict[str, list[int]] = {}
    for sold_on, _, amount, _, earned, redeemed in every:
        figures = per_day.setdefault(sold_on.isoformat(), [0, 0, 0, 0])
        for at_, value in enumerate((1, amount, earned, redeemed)):
            figures[at_] += value
    got = {
        d["day"]: [d["sales"], d["sales_amount"], d["points_earned"], d["points_redeemed"]]
        for d in days.json()["days"]
        if d["sales"]
    }
    assert got == per_day
    assert len(days.json()["days"]) == 10
    west_days = Counter(sold_on.isoformat() for sold_on, *_ in theirs)
    sheet_rows = list(csv.DictReader(io.StringIO(days_sheet.text)))
    assert {r["day"]: int(r["sales"]) for r in sheet_rows if r["sales"] != "0"} == west_days


async def test_a_quiet_day_reads_every_hour_as_nothing_and_a_bad_range_is_refused(
    client: httpx.AsyncClient,
) -> None:
    till = await open_till(day_starts_at=6)
    manager = await hire(client, "manager", [till.store_id])
    answer = await client.get(
        "/v1/admin/reports/sales-by-hour", params={"date": "2030-03-01"}, headers=manager.headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["stores"] == 1
    assert [h["hour"] for h in answer.json()["hours"]] == [*range(6, 24), *range(6)]
    assert sum(h["sales"] for h in answer.json()["hours"]) == 0
    backwards = await client.get(
        "/v1/admin/reports/points-by-day",
        params={"from": "2030-03-02", "to": "2030-03-01"},
        headers=manager.headers,
    )
    assert backwards.status_code == 400
    assert backwards.json()["code"] == "validation_failed"
