"""The pictures of the pages in the README (docs/screenshots/), made from a real scene in
both languages: a Vladivostok shop's dashboard seen from a computer in Moscow, a member's
page on a phone in New York. Each run checks the scene and writes the pictures to
test-artifacts/screenshots/ (Russian ones end in ``-ru``);

    ASTROCOFFEE_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/web/test_screenshots.py

writes them where the README shows them.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from backend.auth.terminals import create_terminal
from backend.loyalty.program_days import take_snapshot
from db.tables import Store
from tests.backend.campaigns.helpers import launch, line
from tests.conftest import LiveServer
from tests.factories import Till, buy, figures_folded, hire, purchase_body
from tests.factories import log_in as enrol
from tests.servers import ROOT
from tests.web.conftest import ARTIFACTS, OpenPage
from tests.web.test_member_page import card_of
from tests.web.test_member_page import log_in as log_in_on_page
from tests.web.test_staff_dashboard import LIVE_S, dashboard

WHERE = ROOT / os.environ.get("ASTROCOFFEE_SCREENSHOTS", str(ARTIFACTS / "screenshots"))

# What each language's page says in the scene, and the suffix of its pictures.
SCENE = {
    "en-GB": {
        "suffix": "",
        "live": "live",
        "store_zone": "Times in Asia/Vladivostok (UTC+10)",
        "day_start": "(it starts at 02:00)",
        "member_zone": "Times on this page are in Asia/Vladivostok (UTC+10).",
        "campaign": "Double points on croissants, weekday mornings",
        "audience": "Everyone",
        "pastry": "Double points on pastries",
    },
    "ru-RU": {
        "suffix": "-ru",
        "live": "на связи",
        "store_zone": "Время: Asia/Vladivostok (UTC+10)",
        "day_start": "(начинается в 02:00)",
        "member_zone": "Время на этой странице — Asia/Vladivostok (UTC+10).",
        "campaign": "Двойные баллы на круассаны по утрам в будни",
        "audience": "участник",
        "pastry": "Двойные баллы на выпечку",
    },
}
LANGUAGES = pytest.mark.parametrize("locale", list(SCENE))


async def shop(name: str, time_zone: str, day_starts_at: int = 0) -> Till:
    store = Store(
        code=f"VVO-{uuid.uuid4().hex[:6].upper()}",
        name=name,
        currency="RUB",
        time_zone=time_zone,
        day_starts_at=day_starts_at,
    )
    await store.save()
    terminal, key = await create_terminal(store=store, name="Till 1")
    return Till(store_id=store.id, key=key, terminal_id=terminal.id)


async def picture(page: Page, name: str) -> Path:
    WHERE.mkdir(parents=True, exist_ok=True)
    path = WHERE / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a page, not a blank
    return path


@LANGUAGES
async def test_the_staff_dashboard_in_a_vladivostok_shop(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient, locale: str
) -> None:
    says = SCENE[locale]
    till = await shop("Astrocoffee Vladivostok, Svetlanskaya 1", "Asia/Vladivostok", 2)
    manager = await hire(client, "manager", [till.store_id])
    members = [(await enrol(client, live_server.sms)).card_number for _ in range(3)]
    for view, name in (({}, "staff-desktop"), ({"phone": True}, "staff-phone")):
        page = await dashboard(
            open_page, live_server, manager, locale=locale, device_zone="Europe/Moscow", **view
        )
        await expect(page.locator("#connection")).to_have_text(says["live"])
        for member, amount in zip(members, (35000, 18000, 42000), strict=True):
            sale = await buy(client, till, purchase_body(member, amount=amount))
            assert sale.status_code == 201, sale.text
        await expect(page.locator("#feed li")).to_have_count(3, timeout=LIVE_S * 1000)
        await expect(page.locator("#store-zone")).to_have_text(says["store_zone"])
        await expect(page.locator("#stats-day-line")).to_contain_text(says["day_start"])
        await page.fill("#lookup-form input[name=query]", members[0])
        await page.click("#lookup-submit")
        await expect(page.locator("#member-result")).to_contain_text(members[0])
        await picture(page, f"{name}{says['suffix']}")


@LANGUAGES
async def test_the_member_page_on_a_phone_in_new_york(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient, locale: str
) -> None:
    says = SCENE[locale]
    till = await shop("Astrocoffee Vladivostok, Svetlanskaya 1", "Asia/Vladivostok")
    for view, name in (({}, "member-desktop"), ({"phone": True}, "member-phone")):
        page = await open_page(
            live_server.base_url, locale=locale, device_zone="America/New_York", **view
        )
        await log_in_on_page(page, live_server)
        card = await card_of(page)
        await expect(page.locator("#connection")).to_have_text(says["live"])
        for amount in (35000, 18000):
            sale = await buy(client, till, purchase_body(card, amount=amount))
            assert sale.status_code == 201, sale.text
        await expect(page.locator("#history li")).to_have_count(2, timeout=LIVE_S * 1000)
        await expect(page.locator("#member-zone")).to_have_text(says["member_zone"])
        await expect(page.locator("#device-zone")).to_be_visible()
        await expect(page.locator("#qr svg")).to_be_visible()
        await picture(page, f"{name}{says['suffix']}")


@LANGUAGES
async def test_the_campaign_builder_and_the_reports(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient, locale: str
) -> None:
    """An admin writing "double points on croissants, weekday mornings" with the controls, and
    the reports page of a chain of two shops with a few sales (one under a live "double
    points on pastries" campaign), its outstanding points and tiers snapshotted."""
    says = SCENE[locale]
    till = await shop("Astrocoffee Vladivostok, Svetlanskaya 1", "Asia/Vladivostok")
    moscow = await shop("Astrocoffee Moscow, Tverskaya 7", "Europe/Moscow")
    admin = await hire(client, "admin")
    pastry = await launch(
        client,
        admin,
        name=says["pastry"],
        rule={"type": "multiplier", "factor": 2, "categories": ["bakery"]},
    )
    for at, amount in ((till, 35000), (till, 18000), (moscow, 42000), (moscow, 27000)):
        member = (await enrol(client, live_server.sms)).card_number
        items = [line("croissant", "bakery", amount)]
        sale = await buy(client, at, purchase_body(member, amount=amount, items=items))
        assert sale.status_code == 201, sale.text
    await figures_folded()
    await take_snapshot(now=datetime.now(UTC))
    page = await dashboard(
        open_page, live_server, admin, locale=locale, device_zone="Europe/Moscow"
    )
    await expect(page.locator("#connection")).to_have_text(says["live"])
    await page.fill("#campaign-name", says["campaign"])
    await page.select_option("#campaign-kind", "multiplier")
    await page.fill("#rule-categories", "croissant")
    for day in range(5):
        await page.check(f"#target-day-{day}")
    await page.fill("#target-from", "07:00")
    await page.fill("#target-to", "11:00")
    await expect(page.locator("#campaign-check")).to_contain_text(says["audience"])
    # The forecast follows the check: answered before the page moves on (a request cut short
    # by leaving the page is answered 500 "client disconnected", which no document declares).
    await expect(page.locator("#campaign-forecast")).not_to_be_empty(timeout=30_000)
    await page.locator("#campaign-form").scroll_into_view_if_needed()
    await picture(page, f"builder{says['suffix']}")

    await page.goto(f"{live_server.base_url}/staff/reports?campaign={pastry['id']}")
    for chart in ("points", "by-hour", "liability", "tiers", "campaign"):
        await expect(page.locator(f"#{chart}-chart canvas")).to_be_visible()
    await picture(page, f"reports{says['suffix']}")
