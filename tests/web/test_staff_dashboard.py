"""The staff dashboard in a real browser: a manager watches the store's sales live, on the
store's own clock."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Page, expect

from db.tables import Purchase
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, buy, hire, log_in, open_till, purchase_body
from tests.web.conftest import OpenPage, dashboard

LIVE_S = 5


async def look_up(page: Page, query: str, card_number: str) -> None:
    """The dashboard's member lookup for ``query`` (a phone or a card number), which finds the
    member with ``card_number``."""
    await page.fill("#lookup-form input[name=query]", query)
    await page.click("#lookup-submit")
    await expect(page.locator("#member-result")).to_contain_text(card_number)


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


async def adjust(page: Page, points: int, reason: str) -> None:
    """The dashboard's adjustment of the member looked up: ``points`` for ``reason``."""
    await page.fill("#adjust-form input[name=points]", str(points))
    await page.fill("#adjust-form input[name=reason]", reason)
    await page.click("#adjust-submit")


async def test_a_manager_adjusts_a_members_points_with_a_reason(
    manager_page: Page, client: httpx.AsyncClient, member: LoggedInMember, earned_here: int
) -> None:
    page = manager_page
    await look_up(page, member.phone, member.card_number)
    await adjust(page, 25, "")  # no reason: refused
    await adjust(page, 25, "coffee was cold")
    await expect(page.locator("#adjust-message")).not_to_be_empty()
    for _ in range(50):
        balance = (await client.get("/v1/me", headers=member.headers)).json()["balance"]
        if balance["available"] > earned_here:
            break
        await page.wait_for_timeout(100)
    me = await client.get("/v1/me", headers=member.headers)
    assert me.json()["balance"]["available"] == earned_here + 25


async def test_an_admin_creates_and_publishes_a_campaign_and_mints_a_terminal(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient, till: Till
) -> None:
    page = await dashboard(open_page, live_server, await hire(client, "admin"))
    await page.fill("#campaign-form input[name=name]", "Pastry bonus")
    await page.select_option("#campaign-form select[name=kind]", "bonus")
    await page.fill("#rule-points", "15")
    await page.fill("#rule-category", "bakery")
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


# A computer in New York showing the dashboard in British English: neither the device's zone
# nor UTC may show through.
FAR_AWAY = {"locale": "en-GB", "device_zone": "America/New_York"}


async def test_each_store_is_shown_on_its_own_clock(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    stores = {
        "Asia/Vladivostok": (await open_till(time_zone="Asia/Vladivostok"), "UTC+10"),
        "Europe/Kaliningrad": (
            await open_till(time_zone="Europe/Kaliningrad", day_starts_at=4),
            "UTC+2",
        ),
    }
    manager = await hire(client, "manager", [till.store_id for till, _ in stores.values()])
    member = await log_in(client, live_server.sms)
    page = await dashboard(open_page, live_server, manager, **FAR_AWAY)
    assert await page.get_by_text("UTC days").count() == 0

    for zone, (till, offset) in stores.items():
        await page.select_option("#store-select", str(till.store_id))
        await expect(page.locator("#store-zone")).to_have_text(f"Times in {zone} ({offset})")
        await expect(page.locator("#connection")).to_have_text("live")

        sale = await buy(client, till, purchase_body(member.card_number, amount=35000))
        assert sale.status_code == 201, sale.text
        purchase_id = sale.json()["purchase_id"]
        row = page.locator(f"#feed li[data-purchase-id='{purchase_id}']")
        await expect(row).to_contain_text("350.00", timeout=LIVE_S * 1000)
        shown = row.locator("time")
        instant = datetime.fromisoformat(str(await shown.get_attribute("datetime")))
        stored = (
            await Purchase.select(Purchase.created_at)
            .where(Purchase.id == uuid.UUID(purchase_id))
            .first()
        )
        assert stored is not None
        assert abs(instant - stored["created_at"]) < timedelta(seconds=5)  # the sale's moment
        local = instant.astimezone(ZoneInfo(zone))
        assert await shown.inner_text() == local.strftime("%H:%M:%S")
        device = instant.astimezone(ZoneInfo(FAR_AWAY["device_zone"]))
        assert local.strftime("%H") != device.strftime("%H") != instant.strftime("%H")

        # "Today" is the store's business day, as the API says it.
        await expect(page.locator("#stat-sales")).to_have_text("1")
        figures = await client.get(
            f"/v1/admin/stores/{till.store_id}/stats", headers=manager.headers
        )
        day = figures.json()["day"]
        await expect(page.locator("#stats-day")).to_have_attribute("datetime", day)
        weekday = datetime.fromisoformat(day).strftime("%a")
        await expect(page.locator("#stats-day-line")).to_contain_text(weekday)
    await expect(page.locator("#stats-day-line")).to_contain_text("(it starts at 04:00)")

    # The store's terminals read on its clock too.
    listed = await client.get(
        f"/v1/admin/stores/{till.store_id}/terminals", headers=manager.headers
    )
    (terminal,) = listed.json()["items"]
    since = datetime.fromisoformat(terminal["created_at"]).astimezone(ZoneInfo(zone))
    note = page.locator(f"#terminals li[data-terminal-id='{terminal['id']}'] .note")
    await expect(note).to_have_text(
        re.compile(rf"· since {since.day} \w+ {since.year}, {since:%H:%M}$")
    )


async def test_an_admin_schedules_a_campaign_on_the_selected_stores_clock(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    vladivostok = await open_till(time_zone="Asia/Vladivostok")
    berlin = await open_till(time_zone="Europe/Berlin")
    admin = await hire(client, "admin")
    page = await dashboard(open_page, live_server, admin, **FAR_AWAY)

    await page.select_option("#store-select", str(vladivostok.store_id))
    await expect(page.locator("#campaign-zone-note")).to_have_text(
        "Times in Asia/Vladivostok (UTC+10), the clock of the store selected above."
    )
    await expect(page.get_by_label("Starts (Asia/Vladivostok time, optional)")).to_be_visible()
    name = f"Monday mornings {uuid.uuid4().hex[:6]}"
    await page.fill("#campaign-form input[name=name]", name)
    await page.fill("#campaign-form input[name=starts_at]", "2030-01-07T08:00")
    await page.fill("#campaign-form input[name=per_member_limit]", "1")
    await page.select_option("#campaign-form select[name=per_member_period]", "day")
    await page.click("#campaign-create")
    row = page.locator("#campaigns tr", has_text=name)
    await expect(row).to_contain_text("from 7 Jan 2030, 08:00 · 1 per member per day")
    campaigns = await client.get("/v1/admin/campaigns", headers=admin.headers)
    (made,) = [c for c in campaigns.json()["items"] if c["name"] == name]
    # Given on Vladivostok's wall clock, and kept so: the instant is 22:00 UTC the day before.
    assert datetime.fromisoformat(made["starts_at"]) == datetime(2030, 1, 6, 22, tzinfo=UTC)
    assert (made["time_zone"], made["starts_at_local"]) == (
        "Asia/Vladivostok",
        "2030-01-07T08:00:00",
    )
    assert (made["per_member_limit"], made["per_member_period"]) == (1, "day")

    # Seen from a Berlin shop, the campaign still reads on the clock it was given in, and says so.
    await page.select_option("#store-select", str(berlin.store_id))
    await expect(page.locator("#campaign-zone-note")).to_contain_text("Europe/Berlin (UTC+")
    await expect(row).to_contain_text("from 7 Jan 2030, 08:00 (Asia/Vladivostok)")

    # A period needs the number of uses it counts.
    await page.fill("#campaign-form input[name=name]", f"No limit {uuid.uuid4().hex[:6]}")
    await page.select_option("#campaign-form select[name=per_member_period]", "week")
    await page.click("#campaign-create")
    await expect(page.locator("#campaign-error")).to_have_text(
        "Give the uses per member that each week counts."
    )
    await page.select_option("#campaign-form select[name=per_member_period]", "")

    # 02:30 on 31 March 2030 does not happen in Berlin (clocks jump from 02:00 to 03:00).
    skipped = f"Skipped hour {uuid.uuid4().hex[:6]}"
    await page.fill("#campaign-form input[name=name]", skipped)
    await page.fill("#campaign-form input[name=starts_at]", "2030-03-31T02:30")
    await page.click("#campaign-create")
    await expect(page.locator("#campaign-error")).to_have_text(
        "Starts: 2030-03-31 02:30 does not exist in Europe/Berlin: the clocks skip it"
    )
    campaigns = await client.get("/v1/admin/campaigns", headers=admin.headers)
    assert not [c for c in campaigns.json()["items"] if c["name"] == skipped]


async def test_the_dashboard_follows_a_store_moved_to_another_zone(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    till = await open_till(time_zone="Europe/Kaliningrad")
    manager = await hire(client, "manager", [till.store_id])
    member = await log_in(client, live_server.sms)
    page = await dashboard(open_page, live_server, manager, **FAR_AWAY)
    await expect(page.locator("#store-zone")).to_have_text("Times in Europe/Kaliningrad (UTC+2)")
    await expect(page.locator("#connection")).to_have_text("live")

    admin = await hire(client, "admin")
    moved = await client.patch(
        f"/v1/admin/stores/{till.store_id}",
        json={"time_zone": "Asia/Vladivostok"},
        headers=admin.headers,
    )
    assert moved.status_code == 200, moved.text
    sale = await buy(client, till, purchase_body(member.card_number))
    assert sale.status_code == 201, sale.text
    # The figures of the sale say the store's zone: the page moves to it, the sale with it.
    await expect(page.locator("#store-zone")).to_have_text(
        "Times in Asia/Vladivostok (UTC+10)", timeout=LIVE_S * 1000
    )
    shown = page.locator(f"#feed li[data-purchase-id='{sale.json()['purchase_id']}'] time")
    instant = datetime.fromisoformat(str(await shown.get_attribute("datetime")))
    local = instant.astimezone(ZoneInfo("Asia/Vladivostok"))
    await expect(shown).to_have_text(local.strftime("%H:%M:%S"))


async def test_a_manager_corrects_a_birth_date_the_member_gave_once(
    manager_page: Page, client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    given = await client.patch("/v1/me", json={"birth_date": "1990-05-07"}, headers=member.headers)
    assert given.status_code == 200, given.text
    page = manager_page
    await look_up(page, member.phone, member.card_number)
    await page.click("#birth-date-submit")  # no date: refused on the page
    await expect(page.locator("#birth-date-message")).to_have_text(
        "Enter the birth date from the member's document."
    )
    await page.fill("#correct-birth-date", "1990-06-07")
    await page.click("#birth-date-submit")
    await expect(page.locator("#birth-date-message")).to_contain_text("Birth date corrected to")
    me = await client.get("/v1/me", headers=member.headers)
    assert me.json()["birth_date"] == "1990-06-07"


async def test_the_figures_are_fetched_again_when_the_stores_business_day_turns(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    # A Kaliningrad shop whose day starts at 04:00; the dashboard's computer reaches that hour
    # 15 s after the page opens (its clock set there; the server keeps its own). The jumps stay
    # under the live stream's 20 s of quiet before a ping, so only the day can ask again.
    till = await open_till(time_zone="Europe/Kaliningrad", day_starts_at=4)
    manager = await hire(client, "manager", [till.store_id])
    local = datetime.now(UTC).astimezone(ZoneInfo("Europe/Kaliningrad"))
    turn = local.replace(hour=4, minute=0, second=0, microsecond=0)
    if turn <= local:
        turn += timedelta(days=1)
    page = await dashboard(
        open_page, live_server, manager, clock_at=turn - timedelta(seconds=15), **FAR_AWAY
    )
    await expect(page.locator("#stats-day-line")).to_contain_text("(it starts at 04:00)")
    await expect(page.locator("#connection")).to_have_text("live")
    await page.wait_for_load_state("networkidle")  # the stream's own fetch of the figures too
    fetched: list[str] = []
    page.on(
        "request", lambda request: fetched.append(request.url) if "/stats" in request.url else None
    )

    await page.clock.fast_forward(5_000)  # before 04:00: the same business day
    await page.wait_for_timeout(300)
    assert fetched == []
    async with page.expect_request(lambda request: "/stats" in request.url):
        await page.clock.fast_forward(10_000)  # past 04:00: the next business day
    assert len(fetched) == 1
    await expect(page.locator("#connection")).to_have_text("live")  # no reconnect asked


async def test_an_adjustment_above_the_managers_limit_says_it_waits_for_approval(
    manager_page: Page, client: httpx.AsyncClient, member: LoggedInMember, earned_here: int
) -> None:
    page = manager_page
    await look_up(page, member.card_number, member.card_number)
    await adjust(page, 6000, "a lost stamp card")
    await expect(page.locator("#adjust-message")).to_contain_text("Waiting for approval")
    me = await client.get("/v1/me", headers=member.headers)
    assert me.json()["balance"]["available"] == earned_here  # nothing moved yet
