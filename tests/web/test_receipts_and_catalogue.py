"""A receipt refunded by lines and the product catalogue, in a real browser, in both
languages (the done-when of the console issue): a manager who reads Russian opens a member's
three-item receipt and refunds one croissant of two, with "double points on croissants"
live; the page and the API agree that exactly that croissant's points, campaign included,
came back off the balance. An admin loads the catalogue from a CSV file and reads a refused
file's fault, its row named, in the page's language. Pictures of both pages go where
``tests/web/test_screenshots.py`` puts its own (docs/screenshots/ when asked)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.async_api import expect

from tests.backend.campaigns.helpers import DOUBLE_BAKERY, launch, line
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, buy, hire, purchase_body
from tests.web.conftest import LANGUAGES, StaffPage
from tests.web.test_screenshots import picture

CROISSANTS = {**line("CRO-1", "bakery", 15000, quantity=2), "name": "Круассан"}
CAPPUCCINO = {**line("CAP-M", "coffee", 20000), "name": "Капучино"}

SAYS = {
    "ru-RU": {
        "suffix": "-ru",
        "preview": "спишется {points} балл",
        "done": "списано {points} балл",
        "loaded": "Каталог заменён: 3 товара, категорий: 2.",
        "duplicate": "Строка 5: артикул CRO-1 уже есть в строке 2.",
        "total": "3 товара",
    },
    "en-GB": {
        "suffix": "",
        "preview": "{points} points taken back",
        "done": "{points} points taken back",
        "loaded": "The catalogue now holds 3 products in 2 categories.",
        "duplicate": "Row 5: SKU CRO-1 is already on row 2.",
        "total": "3 products",
    },
}
CATALOGUE = (
    "sku,name,category\n"
    'CRO-1,"Круассан, классический",bakery\n'
    "CAP-M,Капучино 300 мл,coffee\n"
    "CRO-2,Круассан миндальный,bakery\n"
)


async def points_of(client: httpx.AsyncClient, headers: dict[str, str], member_id: str) -> int:
    balance = (await client.get(f"/v1/admin/members/{member_id}", headers=headers)).json()
    return int(balance["balance"]["available"] + balance["balance"]["pending"])


@LANGUAGES
async def test_a_manager_refunds_one_croissant_of_a_three_item_receipt(
    as_staff: StaffPage, client: httpx.AsyncClient, till: Till, member: LoggedInMember, locale: str
) -> None:
    says = SAYS[locale]
    admin = await hire(client, "admin")
    await launch(client, admin, name="Двойные баллы на круассаны", rule=DOUBLE_BAKERY)
    body = purchase_body(member.card_number, amount=50000, items=[CROISSANTS, CAPPUCCINO])
    sale = await buy(client, till, body)
    assert sale.status_code == 201, sale.text
    purchase_id = sale.json()["purchase_id"]
    manager = await hire(client, "manager", [till.store_id])
    receipt_path = f"/v1/admin/purchases/{purchase_id}"
    before: dict[str, Any] = (await client.get(receipt_path, headers=manager.headers)).json()
    croissants, cappuccino = before["lines"]
    # The campaign's extra went to the croissants: more than their share of the base points.
    assert croissants["points_earned"] > cappuccino["points_earned"] * 3 // 2
    one_croissant = croissants["points_earned"] // 2
    balance_before = await points_of(client, manager.headers, member.member_id)

    page = await as_staff(manager, f"/staff/member?id={member.member_id}")
    await page.locator(f"#history button[data-purchase-id='{purchase_id}']").first.click()
    receipt = page.locator("#receipt-section")
    await expect(receipt).to_be_visible()
    row = receipt.locator("tr[data-sku='CRO-1']")
    await expect(row.locator(".line-points")).to_have_text(str(croissants["points_earned"]))
    await expect(receipt.locator("tr[data-sku='CAP-M'] .line-points")).to_have_text(
        str(cappuccino["points_earned"])
    )
    await row.locator("input.refund-quantity").fill("1")
    preview = page.locator("#refund-preview")
    await expect(preview).to_contain_text(says["preview"].format(points=one_croissant))
    await page.locator("#refund-reason").fill("Круассан вернули")
    await picture(page, f"receipt{says['suffix']}")
    await page.click("#refund-send")
    message = page.locator("#refund-message")
    await expect(message).to_contain_text(says["done"].format(points=one_croissant))
    await expect(row.locator(".line-refunded")).to_have_text("1")
    await expect(receipt.locator("#receipt-refunds li")).to_have_count(1)
    await picture(page, f"refund{says['suffix']}")

    after = (await client.get(receipt_path, headers=manager.headers)).json()
    (refund,) = after["refunds"]
    assert refund["points_reversed"] == one_croissant
    assert [(x["sku"], x["quantity"]) for x in refund["lines"]] == [("CRO-1", 1)]
    assert [x["refunded_quantity"] for x in after["lines"]] == [1, 0]
    assert after["refunded_amount"] == 15000
    balance_after = await points_of(client, manager.headers, member.member_id)
    assert balance_before - balance_after == one_croissant
    # What the page says the balance is now is the API's.
    available = await client.get(f"/v1/admin/members/{member.member_id}", headers=admin.headers)
    shown = re.sub(r"\D", "", (await message.text_content() or "").rsplit(":", 1)[-1])
    assert int(shown) == available.json()["balance"]["available"]


@LANGUAGES
async def test_an_admin_loads_the_catalogue_and_reads_a_refusal(
    as_staff: StaffPage, live_server: LiveServer, client: httpx.AsyncClient, locale: str
) -> None:
    says = SAYS[locale]
    admin = await hire(client, "admin")
    # The duplicate below is refused with 422 (Chromium logs that).
    page = await as_staff(admin, "/staff/catalogue", refusals=(422,))
    upload = page.locator("#catalogue-file")
    await upload.set_input_files(
        files=[{"name": "catalogue.csv", "mimeType": "text/csv", "buffer": CATALOGUE.encode()}]
    )
    await page.click("#catalogue-send")
    await expect(page.locator("#catalogue-message")).to_have_text(says["loaded"])
    await expect(page.locator("#products tbody tr")).to_have_count(3)
    await expect(page.locator("#products tbody tr").first).to_contain_text("Капучино 300 мл")
    await expect(page.locator("#catalogue-total")).to_have_text(says["total"])

    twice = CATALOGUE + "CRO-1,Круассан ещё раз,bakery\n"
    await upload.set_input_files(
        files=[{"name": "twice.csv", "mimeType": "text/csv", "buffer": twice.encode()}]
    )
    await page.click("#catalogue-send")
    await expect(page.locator("#catalogue-message")).to_have_text(says["duplicate"])
    await picture(page, f"catalogue{says['suffix']}")
    listed = (await client.get("/v1/admin/catalogue", headers=admin.headers)).json()
    assert [item["sku"] for item in listed["items"]] == ["CAP-M", "CRO-1", "CRO-2"]

    # The campaign builder offers the catalogue's categories and SKUs as choices.
    await page.goto(f"{live_server.base_url}/staff")
    await page.locator("#campaign-form select[name=kind]").select_option("multiplier")
    await expect(page.locator("#rule-categories")).to_have_attribute("list", "catalogue-categories")
    choices = page.locator("#catalogue-categories option")
    await expect(choices).to_have_count(2)
    assert [await option.get_attribute("value") for option in await choices.all()] == [
        "bakery",
        "coffee",
    ]
    await expect(page.locator("#catalogue-skus option")).to_have_count(3)
