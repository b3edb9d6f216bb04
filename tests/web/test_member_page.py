"""The member's web page in a real browser: log in, see the card, follow purchases live,
see offers appear, catch up after a network drop."""

from __future__ import annotations

import re
import time

import httpx
from playwright.async_api import Page, expect

from tests.backend.campaigns.helpers import launch
from tests.conftest import LiveServer
from tests.factories import Till, buy, hire, open_till, purchase_body, unique_phone
from tests.web.conftest import OpenPage

# Generous for a shared, noisy machine; the time each update took is printed (pytest -s).
LIVE_S = 5


async def log_in(page: Page, live_server: LiveServer) -> str:
    phone = unique_phone()
    await page.fill("#login-form input[name=phone]", phone)
    await page.click("#send-code")
    await expect(page.locator("#login-form input[name=code]")).to_be_visible()
    for _ in range(50):
        if phone in live_server.sms.codes:
            break
        await page.wait_for_timeout(100)
    await page.fill("#login-form input[name=code]", live_server.sms.codes[phone])
    await page.click("#log-in")
    await expect(page.locator("#member-view")).to_be_visible()
    return phone


async def card_of(page: Page) -> str:
    await expect(page.locator("#card-number")).to_have_text(re.compile(r"\d"))
    return "".join(ch for ch in await page.inner_text("#card-number") if ch.isdigit())


async def test_a_member_sees_the_card_and_a_purchase_arrives_live(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient, till: Till
) -> None:
    page = await open_page(live_server.base_url)
    await log_in(page, live_server)
    card = await card_of(page)
    await expect(page.locator("#balance-available")).to_have_text("0")
    await expect(page.locator("#qr svg")).to_be_visible()
    await expect(page.locator("#connection")).to_have_text("live")

    started = time.perf_counter()
    sale = await buy(client, till, purchase_body(card, amount=35000))
    assert sale.status_code == 201
    await expect(page.locator("#balance-available")).to_have_text("17", timeout=LIVE_S * 1000)
    print(f"balance on screen {1000 * (time.perf_counter() - started):.0f} ms after the sale")
    await expect(page.locator("#history li").first).to_contain_text("+17")


async def test_an_offer_published_by_an_admin_appears_on_the_page(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    page = await open_page(live_server.base_url)
    await log_in(page, live_server)
    await expect(page.locator("#connection")).to_have_text("live")
    admin = await hire(client, "admin")
    campaign = await launch(
        client,
        admin,
        name="Double points weekend",
        rule={"type": "multiplier", "factor": 2},
        requires_activation=True,
    )
    offer = page.locator(f"#offers li[data-campaign-id='{campaign['id']}']")
    await expect(offer).to_contain_text("Double points weekend", timeout=LIVE_S * 1000)
    await offer.locator("button.activate").click()
    await expect(offer).to_contain_text("activated")


async def test_after_a_network_drop_the_page_catches_up(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    till = await open_till()
    page = await open_page(live_server.base_url)
    await log_in(page, live_server)
    card = await card_of(page)
    await expect(page.locator("#connection")).to_have_text("live")
    await page.context.set_offline(True)
    await expect(page.locator("#connection")).to_have_text("offline")
    for amount in (20000, 40000):
        assert (await buy(client, till, purchase_body(card, amount=amount))).status_code == 201
    await page.context.set_offline(False)
    await expect(page.locator("#connection")).to_have_text("live", timeout=LIVE_S * 1000)
    await expect(page.locator("#balance-available")).to_have_text("30", timeout=LIVE_S * 1000)
    await expect(page.locator("#history li")).to_have_count(2)
    await expect(page.locator("#history li").first).to_contain_text("+20")


async def test_the_page_works_at_phone_width(open_page: OpenPage, live_server: LiveServer) -> None:
    page = await open_page(live_server.base_url, phone=True)
    await log_in(page, live_server)
    await expect(page.locator("#balance-available")).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375  # nothing wider than the screen
