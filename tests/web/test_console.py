"""The console's pages beside the dashboard in a real browser, in both languages: program
rules with their change history, staff management, dead letters, reconciliation, and a
member's page for staff. Each step is checked against the API, not only the screen."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.async_api import expect

from backend.campaigns.catalogue import forget_local_copies
from db import sql
from tests.conftest import LiveServer, Shop
from tests.factories import STAFF_PASSWORD, LoggedInMember, Till, hire, log_in, open_till, sold
from tests.web.campaign_steps import COFFEE, CROISSANTS, sell_at
from tests.web.conftest import LANGUAGES, OpenPage, StaffPage, console
from tests.web.test_staff_dashboard import LIVE_S

# What the pages say in each language, where a test reads the words.
SAYS = {
    "ru-RU": {
        "rules": "Правила программы",
        "published": "Версия {version} опубликована",
        "expiry": "сгорание, дней: 365 → 180",
        "deactivated": "отключён",
        "queued": "снова в очереди",
        "agrees": "всё сходится",
        "looked_up": "найден сотрудником",
        "earned": "начислено",
    },
    "en-GB": {
        "rules": "Program rules",
        "published": "Version {version} published",
        "expiry": "expiry, days: 365 → 180",
        "deactivated": "deactivated",
        "queued": "back in line",
        "agrees": "everything agrees",
        "looked_up": "looked up",
        "earned": "earned",
    },
}


@LANGUAGES
async def test_an_admin_changes_the_rules_and_reads_the_history(
    as_staff: StaffPage, client: httpx.AsyncClient, locale: str
) -> None:
    says = SAYS[locale]
    admin = await hire(client, "admin")
    before = (await client.get("/v1/admin/rules", headers=admin.headers)).json()
    page = await as_staff(admin, "/staff/rules")
    await expect(page.locator("#rules-title")).to_have_text(says["rules"])
    await expect(page.locator("nav.console-nav a[aria-current=page]")).to_have_text(says["rules"])
    await expect(page.locator("#expire-after")).to_have_value(
        str(before["rules"]["points_expire_after_days"])
    )

    await page.fill("#expire-after", "0")  # below its range: refused on the page
    await page.click("#rules-publish")
    await expect(page.locator("#rules-message")).not_to_be_empty()
    assert (await client.get("/v1/admin/rules", headers=admin.headers)).json() == before

    await page.fill("#expire-after", "180")
    await page.click("#rules-publish")
    version = before["version"] + 1
    await expect(page.locator("#rules-message")).to_contain_text(
        says["published"].format(version=version)
    )
    after = (await client.get("/v1/admin/rules", headers=admin.headers)).json()
    assert after == {
        "version": version,
        "rules": {**before["rules"], "points_expire_after_days": 180},
    }
    newest = page.locator(f"#rules-history li[data-version='{version}']")
    await expect(newest).to_contain_text(says["expiry"])
    await expect(newest).to_contain_text("Test admin")
    # Put the rules back for the tests that follow (the database is shared).
    restored = await client.post("/v1/admin/rules", headers=admin.headers, json=before["rules"])
    assert restored.status_code == 201


@LANGUAGES
async def test_an_admin_adds_and_deactivates_a_barista(
    as_staff: StaffPage, client: httpx.AsyncClient, till: Till, locale: str
) -> None:
    admin = await hire(client, "admin")
    page = await as_staff(admin, "/staff/people")
    email = f"new-{uuid.uuid4().hex[:8]}@astrocoffee.test"
    await page.fill("#hire-name", "Анна Бариста")
    await page.fill("#hire-email", email)
    await page.fill("#hire-password", "short")  # refused on the page: nothing is created
    await page.click("#hire-submit")
    await expect(page.locator("#hire-message")).not_to_be_empty()
    await page.fill("#hire-password", "a-long-enough-password")
    await page.check(f"#store-{till.store_id}")
    await page.click("#hire-submit")
    row = page.locator("#people tr", has_text=email)
    await expect(row).to_be_visible()

    staff_id = await row.get_attribute("data-staff-id")
    made = (await client.get(f"/v1/admin/staff/{staff_id}", headers=admin.headers)).json()
    assert made["email"] == email
    assert (made["role"], made["store_ids"], made["active"]) == (
        "barista",
        [str(till.store_id)],
        True,
    )
    await row.get_by_role("button").first.click()
    await expect(row.locator(".status")).to_have_text(SAYS[locale]["deactivated"])
    person = (await client.get(f"/v1/admin/staff/{staff_id}", headers=admin.headers)).json()
    assert person["active"] is False


async def test_the_staff_list_comes_a_page_at_a_time(
    as_staff: StaffPage, client: httpx.AsyncClient, till: Till
) -> None:
    """50 people a page (console/paged.js): "Show more" reads the next page, and is hidden
    once no page is left."""
    from backend.staff.schemas import StaffCreate
    from backend.staff.service import create_staff

    admin = await hire(client, "admin")
    for number in range(50):
        await create_staff(
            StaffCreate(
                email=f"barista-{number}-{uuid.uuid4().hex[:8]}@astrocoffee.test",
                name=f"Barista {number}",
                password=STAFF_PASSWORD,
                role="barista",
                store_ids=[till.store_id],
            )
        )
    page = await as_staff(admin, "/staff/people", locale="en-GB")
    rows, more = page.locator("#people tbody tr"), page.locator("#people-more")
    await expect(rows).to_have_count(50)
    await expect(more).to_be_visible()
    await more.click()
    await expect(rows).to_have_count(51)
    await expect(more).to_be_hidden()


_DEAD = """
INSERT INTO outbox_message (id, destination, kind, reference, business_date, payload, status,
                            attempts, last_error, next_attempt_at, created_at)
VALUES ({id}, 'accounting', 'sale', {reference}, DATE '2027-06-01', '{{}}'::jsonb, 'dead', 8,
        'HTTP 422 from accounting', now(), now())
"""


@LANGUAGES
async def test_an_admin_puts_a_dead_letter_back_in_line(
    as_staff: StaffPage, client: httpx.AsyncClient, locale: str
) -> None:
    message_id, reference = uuid.uuid4(), f"r-{uuid.uuid4().hex[:10]}"
    await sql.fetch(_DEAD, id=message_id, reference=reference)
    admin = await hire(client, "admin")
    page = await as_staff(admin, "/staff/dead-letters")
    row = page.locator(f"#dead-letters tr[data-message-id='{message_id}']")
    await expect(row).to_contain_text("HTTP 422 from accounting")
    await row.get_by_role("button").click()
    await expect(page.locator("#dead-message")).to_contain_text(SAYS[locale]["queued"])
    await expect(row).to_have_count(0)
    letters = (await client.get("/v1/admin/outbox/dead-letters", headers=admin.headers)).json()
    assert str(message_id) not in {letter["id"] for letter in letters["items"]}


@LANGUAGES
async def test_an_admin_reconciles_a_stores_day(
    open_page: OpenPage, shop: Shop, locale: str
) -> None:
    """On the app wired to the accounting and payment fakes, as reconciliation needs."""
    till = await open_till()
    member = await log_in(shop.client, shop.sms)
    await sold(shop.client, till, member.card_number, amount=35000)
    admin = await hire(shop.client, "admin")
    stats = f"/v1/admin/stores/{till.store_id}/stats"
    day = (await shop.client.get(stats, headers=admin.headers)).json()["day"]
    page = await console(
        open_page, str(shop.client.base_url), admin, "/staff/reconciliation", locale
    )
    await expect(page.locator(f"#recon-store option[value='{till.store_id}']")).to_be_attached()
    await page.fill("#recon-date", day)
    await page.select_option("#recon-store", str(till.store_id))
    await page.click("#recon-submit")
    expected = await shop.client.get(
        "/v1/admin/reports/reconciliation",
        params={"date": day, "store_id": str(till.store_id)},
        headers=admin.headers,
    )
    assert expected.status_code == 200, expected.text
    report = expected.json()
    assert report["totals"]["sales"] == 1
    await expect(page.locator("#recon-totals [data-total=sales]")).to_have_text("1")
    verdict = page.locator("#recon-verdict")
    await expect(verdict).to_have_attribute("data-balanced", str(report["balanced"]).lower())
    await expect(page.locator("#recon-differences tbody tr")).to_have_count(
        len(report["differences"])
    )
    if report["balanced"]:
        await expect(verdict).to_contain_text(SAYS[locale]["agrees"])


@LANGUAGES
async def test_a_manager_opens_a_members_page_from_the_look_up(
    as_staff: StaffPage,
    live_server: LiveServer,
    client: httpx.AsyncClient,
    till: Till,
    member: LoggedInMember,
    earned_here: int,
    locale: str,
) -> None:
    manager = await hire(client, "manager", [till.store_id])
    page = await as_staff(manager)
    await page.fill("#lookup-form input[name=query]", member.card_number)
    await page.click("#lookup-submit")
    await page.click("#member-result a.member-page")
    await expect(page).to_have_url(
        f"{live_server.base_url}/staff/member?id={member.member_id}", timeout=LIVE_S * 1000
    )
    await expect(page.locator("#member-card")).to_contain_text(member.card_number)
    await expect(page.locator("#history li").first).to_contain_text("+17")
    await expect(page.locator("#history li").first).to_contain_text(SAYS[locale]["earned"])
    await expect(
        page.locator("#member-audit li[data-action='member.looked_up']").first
    ).to_contain_text(SAYS[locale]["looked_up"])


CHART_SAYS = {
    "ru-RU": {"one_sale": "1 продажа", "earned": "начислено 17"},
    "en-GB": {"one_sale": "1 sale", "earned": "17 earned"},
}


@LANGUAGES
async def test_a_manager_watches_the_hour_chart_move_and_downloads_reports(
    as_staff: StaffPage,
    live_server: LiveServer,
    client: httpx.AsyncClient,
    till: Till,
    member: LoggedInMember,
    locale: str,
) -> None:
    says = CHART_SAYS[locale]
    manager = await hire(client, "manager", [till.store_id])
    page = await as_staff(manager)
    chart = page.locator("#hourly-chart")
    await expect(chart.locator("canvas")).to_be_visible()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await sold(client, till, member.card_number, amount=35000)
    await expect(chart).to_have_attribute(
        "aria-label", re.compile(says["one_sale"]), timeout=LIVE_S * 1000
    )

    await page.goto(f"{live_server.base_url}/staff/reports")
    points = page.locator("#points-chart")
    await expect(points.locator("canvas")).to_be_visible()
    await expect(points).to_have_attribute("aria-label", re.compile(says["earned"]))
    async with page.expect_download() as download_info:
        await page.click("#points-csv")
    download = await download_info.value
    path = await download.path()
    lines = (await asyncio.to_thread(Path(path).read_text, encoding="utf-8")).splitlines()
    assert lines[0] == "day,sales,sales_amount_minor,points_earned,points_redeemed,points_reversed"
    assert sum(int(line.split(",")[3]) for line in lines[1:]) == 17


async def test_a_russian_marketer_builds_double_points_on_croissants_on_weekday_mornings(
    as_staff: StaffPage, client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    """Made from the controls alone, no JSON, in Russian; then the engine pays it on a Monday
    morning at the till and not on a Saturday (the store is in Moscow, UTC+3)."""
    admin = await hire(client, "admin")
    # The check answers 400 for the empty window below (Chromium logs that).
    page = await as_staff(admin, locale="ru-RU", refusals=(400,))
    name = f"Двойные баллы на круассаны {uuid.uuid4().hex[:4]}"
    form = page.locator("#campaign-form")
    await form.get_by_label("Название").fill(name)
    await form.get_by_label("Тип").select_option("multiplier")
    await form.get_by_label("Множитель баллов").fill("2")
    await form.get_by_label("Только эти категории", exact=False).fill("croissant")
    for day in range(5):  # Monday to Friday
        await form.locator(f"#target-day-{day}").check()
    await form.locator("#target-from").fill("07:00")
    await form.locator("#target-to").fill("11:00")
    await expect(page.locator("#campaign-check")).to_contain_text("участник")

    # A window of no length is refused as typed, in the server's words.
    await form.locator("#target-to").fill("07:00")
    await expect(page.locator("#campaign-check")).to_contain_text("окно было бы пустым")
    await form.locator("#target-to").fill("11:00")

    await page.click("#campaign-create")
    row = page.locator("#campaigns tr", has_text=name)
    await expect(row).to_contain_text("черновик")
    await row.get_by_role("button", name=f"Опубликовать «{name}»").click()
    await expect(row).to_contain_text("идёт")

    listed = (await client.get("/v1/admin/campaigns", headers=admin.headers)).json()["items"]
    (made,) = [campaign for campaign in listed if campaign["name"] == name]
    assert made["rule"] == {"type": "multiplier", "factor": 2.0, "categories": ["croissant"]}
    assert made["targeting"] == {
        "days_of_week": [0, 1, 2, 3, 4],
        "hours": {"from": "07:00", "to": "11:00"},
    }

    async def earned(at: datetime) -> int:
        forget_local_copies()  # the catalogue's one-second copy: read it afresh
        sale = await sell_at(client, till, member.card_number, at, [CROISSANTS, COFFEE])
        return int(sale["points_earned"])

    monday_morning = await earned(datetime(2030, 1, 7, 5, 0, tzinfo=UTC))  # 08:00 in Moscow
    saturday_morning = await earned(datetime(2030, 1, 12, 5, 0, tzinfo=UTC))
    assert saturday_morning == 25  # 5 % of 500 RUB, no campaign
    assert monday_morning > saturday_morning
