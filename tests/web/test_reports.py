"""The reports page in a real browser, in both languages: the whole chain's charts (each
store's own hours), the outstanding points and the members per tier for an admin, a
campaign's chart reached from the campaigns list, CSV downloads; each read against the
API. A manager sees their stores and not the program's charts."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from backend.loyalty.program_days import take_snapshot
from tests.backend.campaigns.helpers import CROISSANT, DOUBLE_BAKERY, LATTE, launch
from tests.factories import LoggedInMember, Till, figures_folded, hire, sold
from tests.web.conftest import LANGUAGES, StaffPage

SAYS = {
    "ru-RU": {
        "chain": "Вся сеть",
        "mine": "мои кофейни",
        "earned": "начислено {n}",
        "held": "участников {n} балл",
        "tiers": "зелёный: 1",
        "uses": "2 применения",
        "promoted": "Товары акции: bakery",
    },
    "en-GB": {
        "chain": "Whole chain",
        "mine": "my stores",
        "earned": "{n} earned",
        "held": "members held {n} point",
        "tiers": "green: 1",
        "uses": "2 uses",
        "promoted": "Promoted items: bakery",
    },
}


async def _downloaded(page: Page, button: str) -> list[dict[str, str]]:
    async with page.expect_download() as download_info:
        await page.click(button)
    path = await (await download_info.value).path()
    text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@LANGUAGES
async def test_an_admin_reads_the_chain_the_liability_the_tiers_and_a_campaign(
    as_staff: StaffPage, client: httpx.AsyncClient, till: Till, member: LoggedInMember, locale: str
) -> None:
    admin = await hire(client, "admin")
    campaign = await launch(client, admin, name="Double pastry", rule=DOUBLE_BAKERY)
    for items in ([LATTE, CROISSANT], [CROISSANT]):
        amount = sum(i["unit_price"] for i in items)
        await sold(client, till, member.card_number, amount=amount, items=items)
    await figures_folded()
    await take_snapshot(now=datetime.now(UTC))

    page = await as_staff(admin)
    says = SAYS[locale]
    link = page.locator(f"#campaigns tr[data-campaign-id='{campaign['id']}'] a.report")
    await link.click()
    await expect(page).to_have_url(re.compile(rf"/staff/reports\?campaign={campaign['id']}$"))
    await expect(page.locator("#reports-campaign")).to_have_value(campaign["id"])
    report = (
        await client.get(f"/v1/admin/campaigns/{campaign['id']}/report", headers=admin.headers)
    ).json()
    assert report["uses"] == 2
    chart = page.locator("#campaign-chart")
    await expect(chart.locator("canvas")).to_be_visible()
    await expect(chart).to_have_attribute(
        "aria-label", re.compile(f"Double pastry: {says['uses']}")
    )
    await expect(page.locator("#campaign-items")).to_have_text(says["promoted"])
    rows = await _downloaded(page, "#campaign-csv")
    assert [(r["day"], int(r["uses"]), int(r["points"])) for r in rows] == [
        (d["day"], d["uses"], d["points"]) for d in report["days"]
    ]

    await expect(page.locator("#reports-store")).to_have_value("chain")
    await expect(page.locator("#reports-store option").first).to_have_text(says["chain"])
    await expect(page.locator("#by-hour-note")).to_be_visible()
    f = {
        "from": await page.input_value("#reports-from"),
        "to": await page.input_value("#reports-to"),
    }
    chain = (
        await client.get("/v1/admin/reports/points-by-day", params=f, headers=admin.headers)
    ).json()
    earned = sum(d["points_earned"] for d in chain["days"])
    assert earned > 0
    await expect(page.locator("#points-chart")).to_have_attribute(
        "aria-label", re.compile(says["earned"].format(n=earned))
    )

    program = (
        await client.get("/v1/admin/reports/program-days", params=f, headers=admin.headers)
    ).json()
    held = program["days"][-1]["points_outstanding"]
    assert held > 0
    await expect(page.locator("#liability-chart")).to_have_attribute(
        "aria-label", re.compile(says["held"].format(n=held))
    )
    await expect(page.locator("#tiers-chart")).to_have_attribute(
        "aria-label", re.compile(says["tiers"])
    )
    rows = await _downloaded(page, "#liability-csv")
    assert [(r["day"], int(r["points_outstanding"])) for r in rows] == [
        (d["day"], d["points_outstanding"]) for d in program["days"]
    ]


@LANGUAGES
async def test_a_manager_reads_their_stores_without_the_programs_charts(
    as_staff: StaffPage, client: httpx.AsyncClient, till: Till, member: LoggedInMember, locale: str
) -> None:
    await sold(client, till, member.card_number)
    await figures_folded()
    manager = await hire(client, "manager", [till.store_id])
    page = await as_staff(manager, "/staff/reports")
    await expect(page.locator("#reports-store option").first).to_contain_text(SAYS[locale]["mine"])
    await expect(page.locator("#points-chart canvas")).to_be_visible()
    await expect(page.locator("#program-reports")).to_be_hidden()
    rows = await _downloaded(page, "#by-hour-csv")
    api = await client.get(
        "/v1/admin/reports/sales-by-hour",
        params={"date": await page.input_value("#reports-to")},
        headers=manager.headers,
    )
    assert [(r["hour"], int(r["sales"])) for r in rows] == [
        (f"{h['hour']:02d}", h["sales"]) for h in api.json()["hours"]
    ]
    assert sum(int(r["sales"]) for r in rows) == 1
