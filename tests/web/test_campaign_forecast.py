"""The campaign builder forecasts a draft as the admin types, in both languages: beside the
audience now, the sales of the last 30 days it would have touched and the points it would
have cost, the same figures as the API's forecast, with Russian's plural forms."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import time_machine
from playwright.async_api import expect

from tests.conftest import LiveServer
from tests.factories import hire
from tests.web.campaign_steps import FORECAST_AT, write_double_croissants
from tests.web.conftest import LANGUAGES, OpenPage
from tests.web.test_staff_dashboard import dashboard

DRAFT: dict[str, Any] = {
    "name": "Croissants x2",
    "rule": {"type": "multiplier", "factor": 2, "categories": ["croissant"]},
    "targeting": {"days_of_week": [0, 1, 2, 3, 4], "hours": {"from": "07:00", "to": "11:00"}},
}


def russian(count: int, one: str, few: str, many: str) -> str:
    """``count`` and its word in the form Russian gives that number."""
    if count % 10 == 1 and count % 100 != 11:
        return f"{count} {one}"
    if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
        return f"{count} {few}"
    return f"{count} {many}"


def english(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def forecast_words(locale: str, forecast: dict[str, Any]) -> str:
    sales, members, points = (
        forecast["sales_touched"],
        forecast["members_reached"],
        forecast["points"],
    )
    if locale == "ru-RU":
        touched = russian(sales, "продажу", "продажи", "продаж")
        whose = russian(members, "участника", "участников", "участников")
        cost = russian(points, "балл", "балла", "баллов")
        return f"затронула бы {touched} у {whose} и обошлась бы в {cost}"  # noqa: RUF001
    return (
        f"touched {english(sales, 'sale')} of {english(members, 'member')} "
        f"and cost {english(points, 'point')}"
    )


@LANGUAGES
@pytest.mark.usefixtures("week_of_sales")
async def test_the_builder_shows_the_forecast_the_api_gives(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient, locale: str
) -> None:
    with time_machine.travel(FORECAST_AT, tick=True):
        admin = await hire(client, "admin")
        answer = await client.post(
            "/v1/admin/campaigns/forecast", json=DRAFT, headers=admin.headers
        )
        assert answer.status_code == 200, answer.text
        forecast = answer.json()
        # Monday's and Tuesday's mornings; the croissants' share of the points, doubled.
        assert (forecast["sales_touched"], forecast["members_reached"]) == (2, 1)
        assert forecast["points"] > 0

        page = await dashboard(open_page, live_server, admin, locale=locale, clock_at=FORECAST_AT)
        await write_double_croissants(page, DRAFT["name"])
        await expect(page.locator("#campaign-check")).to_contain_text(
            "участник" if locale == "ru-RU" else "member"
        )
        await expect(page.locator("#campaign-forecast")).to_contain_text(
            forecast_words(locale, forecast)
        )
        # Closed on the server's 2030 clock: its tokens would not be believed after.
        await page.close()
