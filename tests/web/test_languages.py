"""Both pages in Russian and English in a real browser: the browser's language picks one,
the switch in the top bar changes it and is kept; Russian counts points in its three plural
forms and writes money its own way; the staff dashboard's live feed speaks the page's
language."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, buy, hire, purchase_body
from tests.web.conftest import OpenPage
from tests.web.test_member_page import LIVE_S, card_of, log_in
from tests.web.test_staff_dashboard import dashboard


async def _in_page(page: Page, module: str, expression: str) -> object:
    """``expression`` over the page's own module ``module`` (as the page loaded it)."""
    return await page.evaluate(
        f"import('/static/js/{module}').then((m) => {expression})",
    )


async def test_a_russian_browser_gets_the_member_page_in_russian_and_can_switch(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient, till: Till
) -> None:
    page = await open_page(live_server.base_url, locale="ru-RU", phone=True)
    # The page's module sets the language once its catalogue has loaded (top-level await),
    # which the `load` event that `goto` waits for does not wait for: expect it, then.
    await expect(page.locator("html")).to_have_attribute("lang", "ru")
    await expect(page.locator("#login-title")).to_have_text("Вход")
    await expect(page.get_by_label("Номер телефона")).to_be_visible()
    await expect(page.locator("#connection")).to_have_text("нет связи")

    await log_in(page, live_server)
    await expect(page.locator("#card-title")).to_have_text("Ваша карта")
    await expect(page.locator("#connection")).to_have_text("на связи")
    card = await card_of(page)
    sale = await buy(client, till, purchase_body(card, amount=35000))
    assert sale.status_code == 201, sale.text
    await expect(page.locator("#balance-available")).to_have_text("17", timeout=LIVE_S * 1000)
    await expect(page.locator("#history li").first).to_contain_text("начислено")

    # Russian's plural forms and money, as Chromium's own Intl gives them to the page.
    counted = await _in_page(
        page, "i18n.js", "[1, 2, 5, 11, 21, 22, 25].map((n) => m.t('common.points', {count: n}))"
    )
    assert counted == [
        "1 балл",
        "2 балла",
        "5 баллов",
        "11 баллов",
        "21 балл",
        "22 балла",
        "25 баллов",
    ]
    money = await _in_page(page, "format.js", "[m.money(35000), m.money(1234567)]")
    assert money == ["350,00\xa0₽", "12\xa0345,67\xa0₽"]

    # The switch: English at once, and kept when the page is opened again.
    await page.select_option("#language", "en")
    await expect(page.locator("#card-title")).to_have_text("Your card")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#connection")).to_have_text("live")
    await page.goto(live_server.base_url)
    await expect(page.locator("#balance-title")).to_have_text("Points")
    assert await _in_page(page, "format.js", "m.money(35000)") == "RUB\xa0350.00"


async def test_an_english_browser_can_choose_russian_for_the_staff_dashboard(
    open_page: OpenPage,
    live_server: LiveServer,
    client: httpx.AsyncClient,
    till: Till,
    member: LoggedInMember,
) -> None:
    manager = await hire(client, "manager", [till.store_id])
    page = await dashboard(open_page, live_server, manager, locale="en-GB")
    await expect(page.locator("#stats-title")).to_have_text("Today")
    await page.select_option("#language", "ru")
    await expect(page.locator("#stats-title")).to_have_text("Сегодня")
    await expect(page.locator("#whoami")).to_contain_text("менеджер")
    await expect(page.locator("#connection")).to_have_text("на связи")

    sale = await buy(client, till, purchase_body(member.card_number, amount=35000))
    assert sale.status_code == 201, sale.text
    row = page.locator("#feed li").first
    await expect(row).to_contain_text("начислено +17 баллов", timeout=LIVE_S * 1000)
    await expect(page.locator("#stat-amount")).to_have_text("350,00\xa0₽")
