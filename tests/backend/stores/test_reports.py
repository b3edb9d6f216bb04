"""A store's charts as data: sales by local hour of a business day beside the same weekday a
week before, points per business day, and both as CSV; managers of the store and admins only.
The clock is set by the tests (Vladivostok, UTC+10, whose business day starts at 02:00)."""

from __future__ import annotations

import csv
import io

import httpx

from tests.clock import at, utc
from tests.conftest import LiveServer
from tests.factories import Till, figures_folded, hire, log_in, open_till, sold


async def test_sales_by_hour_read_the_stores_hours_in_its_business_day_order(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till(time_zone="Asia/Vladivostok", day_starts_at=2)
    member = await log_in(client, live_server.sms)
    with at(utc(2030, 1, 7, 0, 10)):  # Monday 7 January, 10:10 in Vladivostok
        await sold(client, till, member.card_number, 35000)
    with at(utc(2030, 1, 14, 0, 20)):  # the Monday after, 10:20
        await sold(client, till, member.card_number, 18000)
        await sold(client, till, member.card_number, 42000)
    with at(utc(2030, 1, 14, 15, 30)):  # 01:30 on Tuesday the 15th: Monday's business day still
        await sold(client, till, member.card_number, 20000)
        manager = await hire(client, "manager", [till.store_id])
        path = f"/v1/admin/stores/{till.store_id}/reports/sales-by-hour"
        answer = await client.get(path, headers=manager.headers)  # today: Monday's
    # 02:30 on Tuesday: Tuesday's business day (it starts at 02:00)
    with at(utc(2030, 1, 14, 16, 30)):
        await sold(client, till, member.card_number, 10000)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["day"], report["week_before"], report["time_zone"]) == (
        "2030-01-14",
        "2030-01-07",
        "Asia/Vladivostok",
    )
    assert [hour["hour"] for hour in report["hours"]] == [*range(2, 24), 0, 1]
    today = {h["hour"]: (h["sales"], h["amount"]) for h in report["hours"] if h["sales"]}
    before = {
        h["hour"]: (h["sales"], h["amount"]) for h in report["week_before_hours"] if h["sales"]
    }
    assert today == {10: (2, 60000), 1: (1, 20000)}
    assert before == {10: (1, 35000)}

    with at(utc(2030, 1, 14, 16, 31)):
        manager = await hire(client, "manager", [till.store_id])  # signed in at this hour
        sheet = await client.get(
            f"{path}.csv", params={"date": "2030-01-14"}, headers=manager.headers
        )
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["content-type"].startswith("text/csv")
    assert 'filename="sales-by-hour-2030-01-14.csv"' in sheet.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert len(rows) == 24
    assert rows[8] == {
        "hour": "10",
        "sales": "2",
        "amount_minor": "60000",
        "week_before_sales": "1",
        "week_before_amount_minor": "35000",
    }


async def test_points_by_day_are_the_folded_day_figures(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till(time_zone="Asia/Vladivostok")
    member = await log_in(client, live_server.sms)
    with at(utc(2030, 3, 1, 3)):
        await sold(client, till, member.card_number, 35000)
        await figures_folded()
    with at(utc(2030, 3, 3, 3)):
        await sold(client, till, member.card_number, 18000)
        await figures_folded()
        admin = await hire(client, "admin")
        path = f"/v1/admin/stores/{till.store_id}/reports/points-by-day"
        answer = await client.get(path, params={"from": "2030-02-28"}, headers=admin.headers)
        sheet = await client.get(
            f"{path}.csv", params={"from": "2030-02-28"}, headers=admin.headers
        )
    assert answer.status_code == 200, answer.text
    days = {d["day"]: (d["sales"], d["points_earned"]) for d in answer.json()["days"]}
    assert days == {
        "2030-02-28": (0, 0),
        "2030-03-01": (1, 17),
        "2030-03-02": (0, 0),
        "2030-03-03": (1, 9),
    }
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert [(row["day"], row["points_earned"]) for row in rows] == [
        ("2030-02-28", "0"),
        ("2030-03-01", "17"),
        ("2030-03-02", "0"),
        ("2030-03-03", "9"),
    ]


async def test_reports_are_for_the_stores_managers_and_refuse_a_bad_range(
    client: httpx.AsyncClient, till: Till
) -> None:
    elsewhere = await open_till()
    barista = await hire(client, "barista", [till.store_id])
    other_manager = await hire(client, "manager", [elsewhere.store_id])
    manager = await hire(client, "manager", [till.store_id])
    path = f"/v1/admin/stores/{till.store_id}/reports/points-by-day"
    assert (await client.get(path, headers=barista.headers)).status_code == 403
    assert (await client.get(path, headers=other_manager.headers)).status_code == 403
    backwards = await client.get(
        path, params={"from": "2030-03-02", "to": "2030-03-01"}, headers=manager.headers
    )
    assert backwards.status_code == 400
    assert backwards.json()["code"] == "validation_failed"
    too_long = await client.get(
        path, params={"from": "2030-01-01", "to": "2030-12-31"}, headers=manager.headers
    )
    assert too_long.status_code == 400
