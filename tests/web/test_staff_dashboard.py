"""The staff dashboard in a real browser: a manager watches the store's sales live."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import LiveServer
from tests.factories import (
    STAFF_PASSWORD,
    LoggedInMember,
    SignedInStaff,
    Till,
    buy,
    hire,
    log_in,
    purchase_body,
)
from tests.web.conftest import OpenPage

LIVE_S = 5


async def dashboard(open_page: OpenPage, live_server: LiveServer, staff: SignedInStaff) -> Page:
    """The staff dashboard, logged in as ``staff``."""
    page = await open_page(f"{live_server.base_url}/staff")
    await page.fill("#staff-login-form input[name=email]", staff.email)
    await page.fill("#staff-login-form input[name=password]", STAFF_PASSWORD)
    await page.click("#staff-log-in")
    await expect(page.locator("#staff-view")).to_be_visible()
    return page


@pytest.fixture
async def manager_page(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient, till: Till
) -> Page:
    """The dashboard of a manager of the till's store."""
    return await dashboard(open_page, live_server, await hire(client, "manager", [till.store_id]))


async def test_a_manager_sees_the_sale_in_the_live_feed_and_todays_figures(
    manager_page: Page, client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    page = manager_page
    await expect(page.locator("#connection")).to_have_text("live")
    await expect(page.locator("#stat-sales")).to_have_text("0")

    started = time.perf_counter()
    sale = await buy(client, till, purchase_body(member.card_number, amount=35000))
    purchase_id = sale.json()["purchase_id"]
    row = page.locator(f"#feed li[data-purchase-id='{purchase_id}']")
    await expect(row).to_contain_text("350.00", timeout=LIVE_S * 1000)
    print(f"sale in the feed {1000 * (time.perf_counter() - started):.0f} ms after it")
    await expect(page.locator("#stat-sales")).to_have_text("1")
    await expect(page.locator("#stat-points-earned")).to_have_text("17")


async def test_a_manager_adjusts_a_members_points_with_a_reason(
    manager_page: Page, client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    page = manager_page
    await page.fill("#lookup-form input[name=query]", member.phone)
    await page.click("#lookup-submit")
    await expect(page.locator("#member-result")).to_contain_text(member.card_number)
    await page.fill("#adjust-form input[name=points]", "25")
    await page.click("#adjust-submit")  # no reason: refused
    await page.fill("#adjust-form input[name=reason]", "coffee was cold")
    await page.click("#adjust-submit")
    await expect(page.locator("#adjust-message")).not_to_be_empty()
    for _ in range(50):
        balance = (await client.get("/v1/me", headers=member.headers)).json()["balance"]
        if balance["available"]:
            break
        await page.wait_for_timeout(100)
    me = await client.get("/v1/me", headers=member.headers)
    assert me.json()["balance"]["available"] == 25


async def test_an_admin_creates_and_publishes_a_campaign_and_mints_a_terminal(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient, till: Till
) -> None:
    page = await dashboard(open_page, live_server, await hire(client, "admin"))
    await page.fill("#campaign-form input[name=name]", "Pastry bonus")
    await page.select_option("#campaign-form select[name=kind]", "bonus")
    await page.fill(
        "#campaign-form textarea[name=rule]",
        '{"type": "bonus", "points": 15, "category": "bakery"}',
    )
    await page.click("#campaign-create")
    row = page.locator("#campaigns tr", has_text="Pastry bonus")
    await expect(row).to_contain_text("draft")
    await row.locator("button.publish").click()
    await expect(row).to_contain_text("active")

    await page.select_option("#store-select", str(till.store_id))
    await page.fill("#terminal-form input[name=name]", "till 2")
    await page.click("#terminal-create")
    await expect(page.locator("#new-terminal-key")).to_have_text(re.compile(r"^\s*ack_"))
    key = await page.locator("#new-terminal-key").inner_text()
    assert key.strip().startswith("ack_")
    member = await log_in(client, live_server.sms)
    works = await buy(
        client,
        Till(store_id=till.store_id, key=key.strip()),
        purchase_body(member.card_number),
    )
    assert works.status_code == 201
