"""Members' rights on the web pages: the member downloads their data, gives and withdraws
marketing consent, and erases their account with a texted code; on the staff dashboard a
second manager approves an adjustment that waited, and its requester's own approval is
refused."""

from __future__ import annotations

import json
import uuid

import httpx
from playwright.async_api import Page, expect

from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, buy, hire, purchase_body
from tests.web.conftest import OpenPage
from tests.web.test_member_page import card_of, log_in, member_headers, member_page
from tests.web.test_staff_dashboard import dashboard

LIVE_S = 5


async def texted_code(page: Page, live_server: LiveServer, phone: str) -> str:
    for _ in range(50):
        if phone in live_server.sms.codes:
            return live_server.sms.codes[phone]
        await page.wait_for_timeout(100)
    raise AssertionError(f"no code was texted to {phone}")


async def test_a_member_downloads_their_data_as_a_json_file(
    open_page: OpenPage, live_server: LiveServer
) -> None:
    page = await open_page(live_server.base_url)
    phone = await log_in(page, live_server)
    card = await card_of(page)
    async with page.expect_download() as downloading:
        await page.click("#export-data")
    download = await downloading.value
    assert download.suggested_filename.endswith(".json")
    path = await download.path()
    exported = json.loads(path.read_text(encoding="utf-8"))
    assert exported["profile"]["phone"] == phone
    assert exported["profile"]["card_number"] == card
    assert {c["channel"] for c in exported["consents"]["channels"]} == {"push", "sms", "email"}
    await expect(page.locator("#data-message")).to_contain_text("downloaded")


async def test_consent_toggles_persist_across_a_reload(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    page = await member_page(open_page, live_server, locale="en-GB")
    headers = await member_headers(page)
    for channel in ("push", "sms", "email"):
        await expect(page.get_by_label(_LABELS[channel], exact=True)).not_to_be_checked()
    await expect(page.locator("#consent-sms-at")).to_have_text("Never given")

    await page.get_by_label("SMS", exact=True).check()
    await expect(page.locator("#consent-message")).to_have_text("Saved.")
    await expect(page.locator("#consent-sms-at")).to_contain_text("Given ")
    await page.get_by_label("Email", exact=True).check()
    await expect(page.locator("#consent-email-at")).to_contain_text("Given ")
    await page.get_by_label("SMS", exact=True).uncheck()
    await expect(page.locator("#consent-sms-at")).to_contain_text("Withdrawn ")

    await page.reload()
    await expect(page.locator("#consent-email-at")).to_contain_text("Given ")
    await expect(page.get_by_label("Email", exact=True)).to_be_checked()
    await expect(page.get_by_label("SMS", exact=True)).not_to_be_checked()
    await expect(page.get_by_label("Push notifications", exact=True)).not_to_be_checked()

    consents = (await client.get("/v1/me/consents", headers=headers)).json()
    given = {state["channel"]: state["given"] for state in consents["channels"]}
    assert given == {"push": False, "sms": False, "email": True}
    assert [(c["channel"], c["given"], c["source"]) for c in consents["history"]] == [
        ("sms", False, "app"),
        ("email", True, "app"),
        ("sms", True, "app"),
    ]


_LABELS = {"push": "Push notifications", "sms": "SMS", "email": "Email"}


async def test_a_member_erases_their_account_with_a_texted_code(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient, till: Till
) -> None:
    page = await open_page(live_server.base_url, refusals=(401,))  # the wrong code
    phone = await log_in(page, live_server)
    card = await card_of(page)
    headers = await member_headers(page)
    assert (await buy(client, till, purchase_body(card, amount=35000))).status_code == 201
    await expect(page.locator("#balance-available")).to_have_text("17", timeout=LIVE_S * 1000)

    await expect(page.locator("#erase-warning")).to_contain_text("cannot be undone")
    await expect(page.locator("#erase-warning")).to_contain_text("forfeited")
    live_server.sms.codes.pop(phone, None)  # the login's code, already used
    await page.click("#erase-send-code")
    await expect(page.get_by_label("Erasure code from the SMS")).to_be_visible()
    code = await texted_code(page, live_server, phone)

    # A wrong code is refused in the page's words, and nothing is erased.
    wrong = "000000" if code != "000000" else "111111"
    await page.get_by_label("Erasure code from the SMS").fill(wrong)
    await page.get_by_label("I understand that my points are forfeited").check()
    await page.click("#erase-submit")
    await expect(page.locator("#erase-message")).to_have_text(
        "That code is wrong, expired or already used. Ask for a new code and try again."
    )
    assert (await client.get("/v1/me", headers=headers)).status_code == 200

    await page.get_by_label("Erasure code from the SMS").fill(code)
    await page.click("#erase-submit")
    await expect(page.locator("#login")).to_be_visible()
    await expect(page.locator("#member-view")).to_be_hidden()
    await expect(page.locator("#login-status")).to_have_text(
        "Your account was erased, with its points and personal data."
    )
    assert await page.evaluate("sessionStorage.getItem('astrocoffee.member')") is None
    # The old session is gone, and the code cannot be used again.
    assert (await client.get("/v1/me", headers=headers)).status_code == 401
    replay = await client.post("/v1/me/erasure", json={"code": code}, headers=headers)
    assert replay.status_code == 401


async def test_a_second_manager_approves_on_the_dashboard_and_the_requester_cannot(
    open_page: OpenPage,
    live_server: LiveServer,
    client: httpx.AsyncClient,
    till: Till,
    member: LoggedInMember,
    earned_here: int,
) -> None:
    requester = await hire(client, "manager", [till.store_id])
    colleague = await hire(client, "manager", [till.store_id])
    asked = await client.post(
        f"/v1/admin/members/{member.member_id}/adjustments",
        headers={**requester.headers, "Idempotency-Key": uuid.uuid4().hex},
        json={"points": 6000, "reason": "a lost stamp card"},
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "pending_approval"
    approval_id = asked.json()["approval_id"]

    # The requester sees their own request, but the API refuses their approval.
    own = await dashboard(open_page, live_server, requester, refusals=(403,))
    row = own.locator(f"#approvals li[data-approval-id='{approval_id}']")
    await expect(row).to_contain_text("+6000 points")
    await expect(row).to_contain_text("a lost stamp card")
    await expect(row).to_contain_text("your request")
    await row.get_by_role("button", name="Approve").click()
    await expect(own.locator("#approvals-message")).to_have_text(
        "You asked for this adjustment: another manager or an admin must approve it."
    )
    await expect(row).to_be_visible()
    me = await client.get("/v1/me", headers=member.headers)
    assert me.json()["balance"]["available"] == earned_here

    # A second manager of the store approves it: the points reach the member.
    other = await dashboard(open_page, live_server, colleague)
    row = other.locator(f"#approvals li[data-approval-id='{approval_id}']")
    await expect(row).not_to_contain_text("your request")
    await row.get_by_role("button", name="Approve").click()
    await expect(other.locator("#approvals-message")).to_have_text(
        f"Approved: +6000 points. The member now has {earned_here + 6000} points."
    )
    await expect(row).to_have_count(0)
    me = await client.get("/v1/me", headers=member.headers)
    assert me.json()["balance"]["available"] == earned_here + 6000
    pending = await client.get("/v1/admin/adjustment-approvals", headers=colleague.headers)
    assert approval_id not in [item["id"] for item in pending.json()["items"]]
