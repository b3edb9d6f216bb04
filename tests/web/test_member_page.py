"""The member's web page in a real browser: log in, see the card, follow purchases live,
see offers appear, catch up after a network drop, read times in their own zone, give the
birth date once."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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


async def member_page(open_page: OpenPage, live_server: LiveServer, **browser: Any) -> Page:
    """The member page, logged in as a new member (``browser``: see ``open_page``)."""
    page = await open_page(live_server.base_url, **browser)
    await log_in(page, live_server)
    return page


async def card_of(page: Page) -> str:
    await expect(page.locator("#card-number")).to_have_text(re.compile(r"\d"))
    return "".join(ch for ch in await page.inner_text("#card-number") if ch.isdigit())


async def test_a_member_sees_the_card_and_a_purchase_arrives_live(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient, till: Till
) -> None:
    page = await member_page(open_page, live_server)
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
    page = await member_page(open_page, live_server)
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
    page = await member_page(open_page, live_server)
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
    page = await member_page(open_page, live_server, phone=True)
    await expect(page.locator("#balance-available")).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375  # nothing wider than the screen


async def member_headers(page: Page) -> dict[str, str]:
    """The bearer header of the member logged in on ``page`` (its tab's session)."""
    session = json.loads(await page.evaluate("sessionStorage.getItem('astrocoffee.member')"))
    return {"Authorization": f"Bearer {session['access_token']}"}


async def shown_time_of_first_entry(
    page: Page, client: httpx.AsyncClient, headers: dict[str, str], zone: str
) -> None:
    """The newest history entry reads its ``created_at`` on the clock of ``zone``."""
    entries = await client.get("/v1/me/transactions", headers=headers)
    created_at = datetime.fromisoformat(entries.json()["items"][0]["created_at"])
    local = created_at.astimezone(ZoneInfo(zone))
    shown = page.locator("#history li time").first
    await expect(shown).to_have_text(re.compile(rf"^{local.day} \w+ {local.year}, {local:%H:%M}$"))


async def test_times_read_in_the_members_zone_which_they_change(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    vladivostok = await open_till(time_zone="Asia/Vladivostok")
    # A phone in New York, in British English: the member's zone shows, not the phone's.
    page = await member_page(open_page, live_server, locale="en-GB", device_zone="America/New_York")
    card = await card_of(page)
    headers = await member_headers(page)
    await expect(page.locator("#connection")).to_have_text("live")
    sale = await buy(client, vladivostok, purchase_body(card, amount=35000))
    assert sale.status_code == 201, sale.text
    # The first sale's store gives the member its zone; the page follows at once.
    zone_line = page.locator("#member-zone")
    await expect(zone_line).to_have_text(
        "Times on this page are in Asia/Vladivostok (UTC+10).", timeout=LIVE_S * 1000
    )
    await page.reload()
    await expect(page.locator("#history-zone")).to_have_text("Times in Asia/Vladivostok (UTC+10)")
    await shown_time_of_first_entry(page, client, headers, "Asia/Vladivostok")
    await expect(page.locator("#time-zone")).to_have_value("Asia/Vladivostok")
    await expect(page.locator("#device-zone")).to_have_text(
        re.compile(r"This device is set to America/New_York\.\s+Use it")
    )

    await page.select_option("#time-zone", "Europe/Kaliningrad")
    await page.click("#zone-save")
    await expect(page.locator("#details-message")).to_have_text(
        "Saved: times are now shown in Europe/Kaliningrad (UTC+2)."
    )
    await shown_time_of_first_entry(page, client, headers, "Europe/Kaliningrad")
    await page.reload()
    await expect(page.locator("#time-zone")).to_have_value("Europe/Kaliningrad")
    await shown_time_of_first_entry(page, client, headers, "Europe/Kaliningrad")
    me = await client.get("/v1/me", headers=headers)
    assert me.json()["time_zone"] == "Europe/Kaliningrad"

    # One click takes the device's own zone.
    await page.click("#use-device-zone")
    await expect(page.locator("#time-zone")).to_have_value("America/New_York")
    await shown_time_of_first_entry(page, client, headers, "America/New_York")
    await expect(page.locator("#device-zone")).to_be_hidden()
    me = await client.get("/v1/me", headers=headers)
    assert me.json()["time_zone"] == "America/New_York"


async def test_the_birth_date_is_given_once_then_only_staff_correct_it(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    page = await member_page(open_page, live_server, locale="en-GB")
    headers = await member_headers(page)
    await expect(page.locator("#birth-form")).to_be_visible()
    await expect(page.locator("#birth-known")).to_be_hidden()
    await page.fill("#birth-date", "1990-05-07")
    await page.click("#birth-save")
    known = page.locator("#birth-known")
    await expect(known).to_contain_text("Birth date 7 May 1990")
    await expect(known).to_contain_text("staff at the counter can correct it")
    await expect(page.locator("#birth-form")).to_be_hidden()
    await page.reload()
    await expect(known).to_contain_text("Birth date 7 May 1990")
    await expect(page.locator("#birth-form")).to_be_hidden()

    # What the page no longer offers, the API refuses too; staff correct it.
    again = await client.patch("/v1/me", json={"birth_date": "1991-05-07"}, headers=headers)
    assert again.status_code == 409, again.text
    admin = await hire(client, "admin")
    member_id = (await client.get("/v1/me", headers=headers)).json()["member_id"]
    corrected = await client.patch(
        f"/v1/admin/members/{member_id}/birth-date",
        json={"birth_date": "1990-06-07"},
        headers=admin.headers,
    )
    assert corrected.status_code < 300, corrected.text
    await page.reload()
    await expect(known).to_contain_text("Birth date 7 Jun 1990")
