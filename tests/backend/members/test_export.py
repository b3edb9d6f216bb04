"""Export: everything kept about a member as one JSON document, downloaded by the member or
produced by an admin for a written request (audited); never another member's, never a
token."""

from __future__ import annotations

import httpx

from tests.backend.audit.support import entries, only
from tests.conftest import LiveServer
from tests.factories import (
    LoggedInMember,
    SignedInStaff,
    assert_problem,
    hire,
    log_in,
    on_checkout,
    open_checkout,
    open_till,
    sold,
)


async def test_a_member_downloads_everything_kept_about_them(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember
) -> None:
    till = await open_till()
    items = [
        {
            "sku": "LATTE-M",
            "name": "Latte",
            "category": "coffee",
            "quantity": 2,
            "unit_price": 17500,
        }
    ]
    bought = await sold(client, till, member.card_number, items=items)
    checkout = await open_checkout(client, till, member)
    assert (await on_checkout(client, till, checkout, "cancel")).status_code == 200
    await client.patch("/v1/me", headers=member.headers, json={"birth_date": "1990-05-17"})
    await client.put("/v1/me/consents", headers=member.headers, json={"email": True})
    apns_token = "ab12" * 16
    device = await client.post(
        "/v1/me/devices", headers=member.headers, json={"provider": "apns", "token": apns_token}
    )
    assert device.status_code == 201, device.text
    await client.put("/v1/me/notifications", headers=member.headers, json={"language": "en"})
    other = await log_in(client, live_server.sms)  # someone else, not in the document

    response = await client.get("/v1/me/export", headers=member.headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    profile = document["profile"]
    assert (profile["member_id"], profile["phone"], profile["card_number"]) == (
        member.member_id,
        member.phone,
        member.card_number,
    )
    assert profile["birth_date"] == "1990-05-17"
    assert profile["balance"]["available"] == bought["balance"]["available"]
    assert [c["channel"] for c in document["consents"]["history"]] == ["email"]
    assert [e["kind"] for e in document["ledger"]] == ["earn"]
    assert [p["id"] for p in document["purchases"]] == [bought["purchase_id"]]
    assert document["purchases"][0]["store_name"] == "Test store"
    assert [(x["sku"], x["quantity"]) for x in document["purchases"][0]["lines"]] == [
        ("LATTE-M", 2)
    ]
    assert [c["status"] for c in document["checkouts"]] == ["cancelled"]
    assert document["stats"]["category_counts"] == {"coffee": 2}
    assert [s["session_id"] for s in document["sessions"]] == [
        member.refresh_token.partition(".")[0]
    ]
    assert [(d["id"], d["provider"]) for d in document["push_devices"]] == [
        (device.json()["id"], "apns")
    ]
    assert document["notification_settings"]["language"] == "en"
    # Never a token, never someone else's data; the member's own export is not a staff action.
    assert apns_token not in response.text
    assert member.refresh_token.partition(".")[2] not in response.text
    assert member.access_token not in response.text
    assert other.member_id not in response.text and other.phone not in response.text
    assert await entries("member.exported") == []


async def test_an_admin_exports_for_a_written_request_and_it_is_audited(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    admin = await hire(client, "admin")
    path = f"/v1/admin/members/{member.member_id}/export"
    missing_reason = await client.get(path, headers=admin.headers)
    assert missing_reason.status_code == 400, missing_reason.text
    assert await entries("member.exported") == []
    response = await client.get(
        path, params={"reason": "letter of 2026-12-01"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["profile"]["phone"] == member.phone
    entry = await only("member.exported")
    assert str(entry["staff_id"]) == admin.staff_id
    assert entry["target_id"] == member.member_id
    assert entry["after"] == {"reason": "letter of 2026-12-01"}


async def test_only_admins_export_and_a_refusal_is_audited(
    client: httpx.AsyncClient, member: LoggedInMember, store_staff: SignedInStaff
) -> None:
    refused = await client.get(
        f"/v1/admin/members/{member.member_id}/export",
        params={"reason": "curious"},
        headers=store_staff.headers,
    )
    assert_problem(refused, 403, "forbidden")
    assert member.phone not in refused.text
    await only("access.refused", staff_id=store_staff.staff_id)
    assert await entries("member.exported") == []


async def test_a_member_cannot_export_another_member(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember
) -> None:
    other = await log_in(client, live_server.sms)
    refused = await client.get(
        f"/v1/admin/members/{other.member_id}/export",
        params={"reason": "mine?"},
        headers=member.headers,
    )
    assert refused.status_code == 403, refused.text
    assert other.phone not in refused.text
