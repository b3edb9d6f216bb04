"""Accessibility, checked by axe-core (the engine browsers' own audits use) inside each page:
the member page and the staff dashboard, logged out and logged in (an admin sees every
panel), and each console page, in both languages, at phone and desktop widths. Serious or critical violations fail;
the test names each with the elements it found."""

from __future__ import annotations

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from backend.web.routes import CONSOLE_PAGES
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, hire
from tests.web.conftest import LANGUAGES, OpenPage
from tests.web.test_member_page import log_in
from tests.web.test_staff_dashboard import dashboard

GRAVE = {"serious", "critical"}
AXE = Axe()
# Every page in each language, at a desktop's and a phone's width.
pytestmark = [LANGUAGES, pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])]


async def grave_violations(page: Page) -> list[str]:
    results = await AXE.run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"])
        for violation in results.response["violations"]
        if violation["impact"] in GRAVE
    ]


async def test_the_member_page_has_no_grave_accessibility_violation(
    open_page: OpenPage, live_server: LiveServer, locale: str, phone: bool
) -> None:
    page = await open_page(live_server.base_url, locale=locale, phone=phone)
    await expect(page.locator("#login")).to_be_visible()
    assert await grave_violations(page) == []
    await log_in(page, live_server)
    await expect(page.locator("#qr svg")).to_be_visible()
    assert await grave_violations(page) == []


async def test_the_staff_dashboard_has_no_grave_accessibility_violation(
    open_page: OpenPage,
    live_server: LiveServer,
    client: httpx.AsyncClient,
    till: Till,
    locale: str,
    phone: bool,
) -> None:
    login = await open_page(f"{live_server.base_url}/staff", locale=locale, phone=phone)
    await expect(login.locator("#staff-login")).to_be_visible()
    assert await grave_violations(login) == []
    admin = await hire(client, "admin")
    page = await dashboard(open_page, live_server, admin, locale=locale, phone=phone)
    await expect(page.locator("#campaigns-section")).to_be_visible()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    assert await grave_violations(page) == []


async def test_the_consoles_pages_have_no_grave_accessibility_violation(
    open_page: OpenPage,
    live_server: LiveServer,
    client: httpx.AsyncClient,
    member: LoggedInMember,
    locale: str,
    phone: bool,
) -> None:
    admin = await hire(client, "admin")
    page = await dashboard(open_page, live_server, admin, locale=locale, phone=phone)
    for path in [f"/staff/{name}" for name in CONSOLE_PAGES if name != "member"]:
        await page.goto(f"{live_server.base_url}{path}")
        await expect(page.locator("#page-body")).to_be_visible()
        assert await grave_violations(page) == [], path
    await page.goto(f"{live_server.base_url}/staff/member?id={member.member_id}")
    await expect(page.locator("#member-card")).to_contain_text(member.card_number)
    assert await grave_violations(page) == []
