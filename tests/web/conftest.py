"""A real browser for the web client: Debian's Chromium driven by Playwright (async API, in
the tests' own event loop, so the app under test keeps serving while the browser waits).

Every page fails its test on a console error or an uncaught exception; a failing test
leaves a screenshot of each of its pages in ``test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import LiveServer
from tests.factories import STAFF_PASSWORD, LoggedInMember, SignedInStaff, Till, sold
from tests.servers import ROOT
from tests.web.campaign_steps import SALES, sell_at

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The web client's two languages, as the browser's locale: a test that reads the pages' words
# runs in each.
LANGUAGES = pytest.mark.parametrize("locale", ["ru-RU", "en-GB"])
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        # A provisioning bug, not a reason to skip: `make test` installs it.
        pytest.fail(
            f"{CHROMIUM} is missing: `make system-packages` installs it (apt-get install chromium)"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        await launched.close()


OpenPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def open_page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[OpenPage]:
    """Open a page in a fresh context (its own storage); ``open_page(url, phone=True)``.

    ``locale`` and ``device_zone`` set the browser's language and the time zone of the
    computer it runs on (by default Chromium's own): a page that shows a store's or a
    member's local time must not show the device's instead. ``clock_at``: the page's clock
    (Date, timers) starts at that instant and runs on, ``page.clock`` moves it further (the
    server's clock is not moved). ``refusals``: HTTP statuses the test makes the page meet
    (a wrong code, a forbidden action): Chromium's "Failed to load resource" console error
    for one of those is not a problem, any other still is."""
    contexts = []
    pages: list[Page] = []
    problems: list[str] = []

    async def open_one(
        url: str,
        *,
        phone: bool = False,
        locale: str | None = None,
        device_zone: str | None = None,
        clock_at: datetime | None = None,
        refusals: tuple[int, ...] = (),
    ) -> Page:
        context = await browser.new_context(
            viewport=PHONE if phone else DESKTOP, locale=locale, timezone_id=device_zone
        )
        contexts.append(context)
        page = await context.new_page()
        if clock_at is not None:
            await page.clock.install(time=clock_at)
        expected = tuple(
            f"Failed to load resource: the server responded with a status of {status} "
            for status in refusals
        )
        page.on(
            "console",
            lambda message: (
                problems.append(f"console {message.type}: {message.text}")
                if message.type == "error" and not message.text.startswith(expected)
                else None
            ),
        )
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        await page.goto(url)
        pages.append(page)
        return page

    yield open_one
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        for number, page in enumerate(pages):
            await page.screenshot(path=str(ARTIFACTS / f"{name}-{number}.png"), full_page=True)
    for context in contexts:
        await context.close()
    assert problems == [], "the page logged errors"


def artifacts() -> Path:
    return ARTIFACTS


async def _sign_in(page: Page, staff: SignedInStaff) -> None:
    """The console's log-in form, filled in and sent as ``staff``."""
    await page.fill("#staff-login-form input[name=email]", staff.email)
    await page.fill("#staff-login-form input[name=password]", STAFF_PASSWORD)
    await page.click("#staff-log-in")


async def dashboard(
    open_page: OpenPage, live_server: LiveServer, staff: SignedInStaff, **browser: Any
) -> Page:
    """The staff dashboard, logged in as ``staff`` (``browser``: see ``open_page``)."""
    page = await open_page(f"{live_server.base_url}/staff", **browser)
    await _sign_in(page, staff)
    await expect(page.locator("#staff-view")).to_be_visible()
    return page


async def console(
    open_page: OpenPage,
    base_url: str,
    staff: SignedInStaff,
    path: str,
    locale: str | None = None,
    **browser: Any,
) -> Page:
    """``path`` (with its query, if any) opened cold: the console sends the person to log in
    and back to ``path`` (``browser``: see ``open_page``)."""
    page = await open_page(f"{base_url}{path}", locale=locale, **browser)
    await expect(page).to_have_url(f"{base_url}/staff?next={quote(path, safe='')}")
    await _sign_in(page, staff)
    await expect(page).to_have_url(f"{base_url}{path}")
    await expect(page.locator("#page-body")).to_be_visible()
    return page


@pytest.fixture
def locale() -> str | None:
    """The browser's language in a test that does not run in each (``LANGUAGES``): Chromium's
    own."""
    return None


StaffPage = Callable[..., Awaitable[Page]]


@pytest.fixture
def as_staff(open_page: OpenPage, live_server: LiveServer, locale: str | None) -> StaffPage:
    """The console of the live server signed in as a member of staff, in the test's language:
    ``as_staff(staff)`` the dashboard, ``as_staff(staff, path)`` ``path`` opened cold; more
    keywords (another language, a phone...) as ``open_page`` takes them."""

    async def open_as(staff: SignedInStaff, path: str | None = None, **browser: Any) -> Page:
        browser = {"locale": locale, **browser}
        if path is None:
            return await dashboard(open_page, live_server, staff, **browser)
        return await console(open_page, live_server.base_url, staff, path, **browser)

    return open_as


@pytest.fixture
async def week_of_sales(client: httpx.AsyncClient, till: Till, member: LoggedInMember) -> None:
    """The member's week of sales at the till that a campaign draft's forecast replays
    (campaign_steps.SALES), each rung up at its moment."""
    for at, items in SALES:
        await sell_at(client, till, member.card_number, at, items)


@pytest.fixture
async def earned_here(client: httpx.AsyncClient, till: Till, member: LoggedInMember) -> int:
    """The points the member earned on a first sale of 350.00 at the till: a manager of its
    store adjusts only the members who bought in their stores."""
    return int((await sold(client, till, member.card_number, amount=35000))["points_earned"])
