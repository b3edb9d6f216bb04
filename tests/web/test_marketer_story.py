"""The console issue's done-when as one story in a real browser, in Russian: with a week of
sales stored (croissants and coffee, rung up at the till on the store's clock), an admin
writes "double points on croissants, weekdays 07:00 to 11:00" from the builder's controls,
reads its audience and forecast (the forecast API's figures), gives it a start next Monday
morning on the store's clock and schedules it. The clock moves to that Monday, 08:40 in
Moscow: the campaign is live, a three-item sale (two croissants, one coffee) earns the
croissants double, the manager watches the sale land on the morning's hour chart and on the
campaign's chart (each read against the API), then refunds one croissant of the receipt on
the member's page: exactly that croissant's points, the campaign's extra included, come off.

The server's clock is moved with time_machine (the app serves in the tests' process), the
browser's with ``clock_at``: each page opens and closes inside its moment, since its tokens
are believed on that clock only. Pictures of the forecast, the scheduled campaign and the
morning's charts go where ``tests/web/test_screenshots.py`` puts its own."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import time_machine
from playwright.async_api import Page, expect

from backend.campaigns.catalogue import forget_local_copies
from backend.campaigns.service import start_and_end_on_time
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, SignedInStaff, Till, hire
from tests.web.campaign_steps import (
    COFFEE,
    CROISSANTS,
    FORECAST_AT,
    sell_at,
    write_double_croissants,
)
from tests.web.conftest import OpenPage
from tests.web.test_campaign_forecast import DRAFT, forecast_words, russian
from tests.web.test_receipts_and_catalogue import points_of
from tests.web.test_reports import _downloaded
from tests.web.test_screenshots import picture
from tests.web.test_staff_dashboard import LIVE_S, dashboard

NAME = "Двойные баллы на круассаны по утрам в будни"
# The store is in Moscow (UTC+3): next Monday, 14 January 2030, from 07:00 on its clock.
STARTS_LOCAL = "2030-01-14T07:00"
STARTS_AT = datetime(2030, 1, 14, 4, 0, tzinfo=UTC)
MORNING = datetime(2030, 1, 14, 5, 40, tzinfo=UTC)  # Monday 08:40 in Moscow


def points(count: int) -> str:
    return russian(count, "балл", "балла", "баллов")


async def schedule_the_campaign(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient
) -> dict[str, Any]:
    """On Friday afternoon, 11 January: built, forecast and scheduled from the dashboard."""
    admin = await hire(client, "admin")
    answer = await client.post("/v1/admin/campaigns/forecast", json=DRAFT, headers=admin.headers)
    assert answer.status_code == 200, answer.text
    forecast = answer.json()
    assert (forecast["sales_touched"], forecast["members_reached"]) == (2, 1)

    page = await dashboard(open_page, live_server, admin, locale="ru-RU", clock_at=FORECAST_AT)
    await write_double_croissants(page, NAME)
    await expect(page.locator("label[for=campaign-starts]")).to_contain_text("Europe/Moscow")
    await page.locator("#campaign-starts").fill(STARTS_LOCAL)
    await expect(page.locator("#campaign-check")).to_contain_text("1 участник")
    await expect(page.locator("#campaign-forecast")).to_contain_text(
        forecast_words("ru-RU", forecast)
    )
    await picture(page, "forecast-ru")

    await page.click("#campaign-create")
    row = page.locator("#campaigns tr", has_text=NAME)
    await expect(row.locator(".status")).to_have_text("черновик")
    await row.get_by_role("button", name=f"Запланировать «{NAME}»").click()
    await expect(row.locator(".status")).to_have_text("запланирована")
    await expect(row.locator(".name .note")).to_contain_text("14 янв. 2030 г., 07:00")  # noqa: RUF001
    await picture(page, "scheduled-ru")
    await page.close()  # its tokens are believed on this clock only

    listed = (await client.get("/v1/admin/campaigns", headers=admin.headers)).json()["items"]
    (made,) = [campaign for campaign in listed if campaign["name"] == NAME]
    assert (made["status"], made["time_zone"]) == ("scheduled", "Europe/Moscow")
    assert datetime.fromisoformat(made["starts_at"]) == STARTS_AT
    assert (made["rule"], made["targeting"]) == (DRAFT["rule"], DRAFT["targeting"])
    return made


async def watch_the_morning(
    page: Page, client: httpx.AsyncClient, till: Till, manager: SignedInStaff, card: str
) -> dict[str, Any]:
    """The manager's dashboard while the three-item sale is rung up; the sale's answer."""
    chart = page.locator("#hourly-chart")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(chart).to_have_attribute("aria-label", re.compile("0 продаж"))
    sale = await sell_at(client, till, card, datetime.now(UTC), [CROISSANTS, COFFEE])
    await expect(chart).to_have_attribute(
        "aria-label", re.compile("1 продажа"), timeout=LIVE_S * 1000
    )
    report = await client.get(
        f"/v1/admin/stores/{till.store_id}/reports/sales-by-hour", headers=manager.headers
    )
    hours = report.json()
    assert hours["day"] == "2030-01-14"
    # The chart's figures are the API's: this morning's sale at 08, last Monday's beside it.
    rows = await _downloaded(page, "#hourly-csv")
    assert [(r["hour"], int(r["sales"]), int(r["week_before_sales"])) for r in rows] == [
        (f"{now['hour']:02d}", now["sales"], before["sales"])
        for now, before in zip(hours["hours"], hours["week_before_hours"], strict=True)
    ]
    assert [r["hour"] for r in rows if int(r["sales"])] == ["08"]
    assert [r["hour"] for r in rows if int(r["week_before_sales"])] == ["08"]
    await picture(page, "morning-ru")
    return sale


@pytest.mark.usefixtures("week_of_sales")
async def test_a_russian_marketer_schedules_double_croissants_and_a_manager_refunds_one(
    open_page: OpenPage,
    live_server: LiveServer,
    client: httpx.AsyncClient,
    till: Till,
    member: LoggedInMember,
    publisher: Any,
) -> None:
    with time_machine.travel(FORECAST_AT, tick=True):
        campaign = await schedule_the_campaign(open_page, live_server, client)

    with time_machine.travel(MORNING, tick=True):
        # The scheduler's round (backend/jobs/scheduler.py) finds the start has come.
        catalogue = live_server.app.state.catalogue
        assert await start_and_end_on_time(publisher, catalogue, now=datetime.now(UTC)) == 1
        forget_local_copies()  # the catalogue's one-second copy: read it afresh
        admin = await hire(client, "admin")
        page = await dashboard(open_page, live_server, admin, locale="ru-RU", clock_at=MORNING)
        row = page.locator(f"#campaigns tr[data-campaign-id='{campaign['id']}']")
        await expect(row.locator(".status")).to_have_text("идёт")
        await page.close()

        manager = await hire(client, "manager", [till.store_id])
        page = await dashboard(open_page, live_server, manager, locale="ru-RU", clock_at=MORNING)
        sale = await watch_the_morning(page, client, till, manager, member.card_number)
        receipt_path = f"/v1/admin/purchases/{sale['purchase_id']}"
        receipt = (await client.get(receipt_path, headers=manager.headers)).json()
        croissants, coffee = receipt["lines"]
        # Two croissants of 150 RUB earn double, a 200 RUB coffee single: three times as much.
        assert croissants["points_earned"] == 3 * coffee["points_earned"] > 0
        assert sale["points_earned"] == croissants["points_earned"] + coffee["points_earned"]

        await page.goto(f"{live_server.base_url}/staff/reports?campaign={campaign['id']}")
        report = await client.get(
            f"/v1/admin/campaigns/{campaign['id']}/report", headers=manager.headers
        )
        used = report.json()
        # One use, its extra: the croissants' base points again.
        assert (used["uses"], used["points"]) == (1, croissants["points_earned"] // 2)
        await expect(page.locator("#campaign-chart")).to_have_attribute(
            "aria-label",
            f"{NAME}: 1 применение, начислено баллов: {used['points']}, продано товаров акции: 2",
        )
        await picture(page, "campaign-morning-ru")

        one_croissant = croissants["points_earned"] // 2
        balance_before = await points_of(client, manager.headers, member.member_id)
        await page.goto(f"{live_server.base_url}/staff/member?id={member.member_id}")
        await page.locator(
            f"#history button[data-purchase-id='{sale['purchase_id']}']"
        ).first.click()
        lines = page.locator("#receipt-section")
        croissant_row = lines.locator("tr[data-sku='croissant']")
        await expect(croissant_row.locator(".line-points")).to_have_text(
            str(croissants["points_earned"])
        )
        await croissant_row.locator("input.refund-quantity").fill("1")
        await expect(page.locator("#refund-preview")).to_contain_text(
            f"спишется {points(one_croissant)}"
        )
        await page.locator("#refund-reason").fill("Один круассан вернули")
        await page.click("#refund-send")
        message = page.locator("#refund-message")
        await expect(message).to_contain_text(f"{points(one_croissant)}. Баланс теперь:")
        await expect(croissant_row.locator(".line-refunded")).to_have_text("1")

        (refund,) = (await client.get(receipt_path, headers=manager.headers)).json()["refunds"]
        assert refund["points_reversed"] == one_croissant
        assert [(x["sku"], x["quantity"]) for x in refund["lines"]] == [("croissant", 1)]
        balance_after = await points_of(client, manager.headers, member.member_id)
        assert balance_before - balance_after == one_croissant
        shown = re.sub(r"\D", "", (await message.text_content() or "").rsplit(":", 1)[-1])
        member_now = await client.get(
            f"/v1/admin/members/{member.member_id}", headers=manager.headers
        )
        assert int(shown) == member_now.json()["balance"]["available"]
        await page.close()  # before the server's clock goes back
