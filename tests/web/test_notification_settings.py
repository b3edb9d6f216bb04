"""The member page's notification settings in a real Chromium: the member turns a kind off,
sets quiet hours and the notifications' language through the page, and the API has stored
them (and the page shows them again when opened anew); in Russian and in English."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import expect

from tests.conftest import LiveServer
from tests.web.conftest import OpenPage
from tests.web.test_member_page import log_in, member_headers

# (browser locale, the kind's label, quiet hours' labels, "Saved.") as the page says them.
WORDS = {
    "ru-RU": ("Баллы за покупку", "Начало", "Конец", "Язык уведомлений", "Сохранено."),
    "en-GB": ("Points for a purchase", "From", "Until", "Language of notifications", "Saved."),
}


@pytest.mark.parametrize("locale", list(WORDS))
async def test_a_kind_quiet_hours_and_language_set_on_the_page_are_stored(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient, locale: str
) -> None:
    points, start, end, language, saved = WORDS[locale]
    page = await open_page(live_server.base_url, locale=locale)
    await log_in(page, live_server)
    headers = await member_headers(page)
    # The defaults, as the API has them: every kind on, 22:00-08:00, Russian.
    box = page.get_by_label(points, exact=True)
    await expect(box).to_be_checked()
    await expect(page.get_by_label(start, exact=True)).to_have_value("22:00")
    await expect(page.get_by_label(end, exact=True)).to_have_value("08:00")

    await box.uncheck()
    await page.get_by_label(start, exact=True).fill("23:30")
    await page.get_by_label(end, exact=True).fill("07:15")
    await page.get_by_label(language, exact=True).select_option("en")
    await page.click("#notify-save")
    await expect(page.locator("#notify-message")).to_have_text(saved)

    stored = (await client.get("/v1/me/notifications", headers=headers)).json()
    assert stored["kinds"]["points_earned"] is False
    assert all(on for kind, on in stored["kinds"].items() if kind != "points_earned")
    assert stored["quiet_hours"] == {"start": "23:30", "end": "07:15"}
    assert stored["language"] == "en"

    # Opened again, the page shows what is stored.
    await page.reload()
    await expect(page.get_by_label(start, exact=True)).to_have_value("23:30")
    await expect(page.get_by_label(points, exact=True)).not_to_be_checked()
    await expect(page.get_by_label(language, exact=True)).to_have_value("en")


async def test_an_unfinished_time_is_not_sent(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    page = await open_page(live_server.base_url, locale="en-GB")
    await log_in(page, live_server)
    headers = await member_headers(page)
    await expect(page.locator("#notify-quiet-start")).to_have_value("22:00")
    await page.locator("#notify-quiet-end").fill("")
    await page.get_by_label("A new level", exact=True).uncheck()
    await page.click("#notify-save")
    await expect(page.locator("#notify-message")).to_have_text(
        "Give both times as hours and minutes."
    )
    stored = (await client.get("/v1/me/notifications", headers=headers)).json()
    assert stored["kinds"]["tier_up"] is True
    assert stored["quiet_hours"] == {"start": "22:00", "end": "08:00"}
