"""Each audited staff action leaves exactly one entry: who, role, stores, what, target,
before/after, request id and client address, written with the change."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from backend.audit.personal import seal
from tests.backend.audit.support import entries, only
from tests.factories import (
    LoggedInMember,
    SignedInStaff,
    add_staff,
    add_terminal,
    hire,
    open_store,
    open_till,
)


def assert_by(entry: dict[str, Any], staff: SignedInStaff, role: str, response: httpx.Response):
    assert str(entry["staff_id"]) == staff.staff_id
    assert entry["role"] == role
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["client_address"] == "127.0.0.1"


async def test_staff_creation_and_change(client: httpx.AsyncClient, admin: SignedInStaff) -> None:
    till = await open_till()
    created = await add_staff(
        client, admin, "barista", [till.store_id], email="audited@astrocoffee.test", name="Audited"
    )
    assert created.status_code == 201, created.text
    # (The admin of the fixture was created by the service itself, as the CLI does: by nobody.)
    entry = await only("staff.created", staff_id=admin.staff_id)
    assert_by(entry, admin, "admin", created)
    assert entry["target_type"] == "staff"
    assert entry["target_id"] == created.json()["id"]
    assert entry["after"]["email"] == "audited@astrocoffee.test"
    assert "password" not in str(entry["after"])
    assert entry["store_ids"] == [till.store_id]

    changed = await client.patch(
        f"/v1/admin/staff/{created.json()['id']}",
        headers=admin.headers,
        json={"role": "manager", "password": "another long password"},
    )
    assert changed.status_code == 200, changed.text
    entry = await only("staff.updated")
    assert_by(entry, admin, "admin", changed)
    assert (entry["before"]["role"], entry["after"]["role"]) == ("barista", "manager")
    assert entry["after"]["password_changed"] is True
    assert "another long password" not in str(entry)


async def test_store_and_terminal_changes(client: httpx.AsyncClient, admin: SignedInStaff) -> None:
    created = await open_store(
        client, admin, code="AUD-1", name="Audited", currency="RUB", time_zone="Asia/Vladivostok"
    )
    assert created.status_code == 201, created.text
    store_id = created.json()["id"]
    entry = await only("store.created")
    assert_by(entry, admin, "admin", created)
    assert (entry["target_type"], entry["target_id"]) == ("store", store_id)
    assert [str(store) for store in entry["store_ids"]] == [store_id]

    renamed = await client.patch(
        f"/v1/admin/stores/{store_id}", headers=admin.headers, json={"name": "Renamed"}
    )
    assert renamed.status_code == 200, renamed.text
    entry = await only("store.updated")
    assert (entry["before"]["name"], entry["after"]["name"]) == ("Audited", "Renamed")

    manager = await hire(client, "manager", [uuid.UUID(store_id)])
    terminal = await add_terminal(client, manager, store_id, "till 9")
    assert terminal.status_code == 201, terminal.text
    terminal_id = terminal.json()["terminal"]["id"]
    entry = await only("terminal.created")
    assert_by(entry, manager, "manager", terminal)
    assert entry["target_id"] == terminal_id
    assert terminal.json()["api_key"] not in str(entry)

    revoked = await client.post(
        f"/v1/admin/terminals/{terminal_id}/revoke", headers=manager.headers
    )
    assert revoked.status_code == 200, revoked.text
    entry = await only("terminal.revoked")
    assert entry["before"]["revoked_at"] is None
    assert entry["after"]["revoked_at"] is not None


async def test_member_look_ups_and_page(client: httpx.AsyncClient, member: LoggedInMember) -> None:
    till = await open_till()
    barista = await hire(client, "barista", [till.store_id])
    manager = await hire(client, "manager", [till.store_id])
    by_phone = await client.get(
        "/v1/admin/members", params={"phone": member.phone}, headers=manager.headers
    )
    assert by_phone.status_code == 200, by_phone.text
    by_card = await client.get(
        "/v1/admin/members", params={"card_number": member.card_number}, headers=barista.headers
    )
    assert by_card.status_code == 200, by_card.text
    missed = await client.get(
        "/v1/admin/members", params={"phone": "+79990000000"}, headers=manager.headers
    )
    assert missed.status_code == 404
    page = await client.get(f"/v1/admin/members/{member.member_id}", headers=barista.headers)
    assert page.status_code == 200

    looked_up = await entries("member.looked_up")
    assert [(e["target_id"], e["after"]) for e in looked_up] == [
        (member.member_id, {"by": "phone", "found": True}),
        (member.member_id, {"by": "card_number", "found": True}),
        (None, {"by": "phone", "found": False}),
    ]
    for entry, response, staff, role in zip(
        looked_up,
        (by_phone, by_card, missed),
        (manager, barista, manager),
        ("manager", "barista", "manager"),
        strict=True,
    ):
        assert_by(entry, staff, role, response)
        # The staff member's store: their manager reads these.
        assert entry["store_ids"] == [till.store_id]
    viewed = await only("member.viewed")
    assert_by(viewed, barista, "barista", page)
    assert viewed["target_id"] == member.member_id


async def test_adjustment_and_birth_date_correction(
    client: httpx.AsyncClient, member: LoggedInMember, admin: SignedInStaff
) -> None:
    key = uuid.uuid4().hex
    for _ in range(2):  # the replay is not a second action
        adjusted = await client.post(
            f"/v1/admin/members/{member.member_id}/adjustments",
            headers={**admin.headers, "Idempotency-Key": key},
            json={"points": 250, "reason": "coffee spilled"},
        )
        assert adjusted.status_code == 201, adjusted.text
    entry = await only("points.adjusted")
    assert entry["target_id"] == member.member_id
    assert entry["before"]["balance"]["available"] == 0
    assert entry["after"]["points"] == 250
    assert entry["after"]["reason"] == "coffee spilled"
    assert entry["after"]["balance"]["available"] == 250

    corrected = await client.patch(
        f"/v1/admin/members/{member.member_id}/birth-date",
        headers=admin.headers,
        json={"birth_date": "1990-05-17"},
    )
    assert corrected.status_code == 200, corrected.text
    entry = await only("member.birth_date_corrected")
    assert_by(entry, admin, "admin", corrected)
    # Sealed under the member's salt: checkable while they exist, nothing once erased.
    member_id = uuid.UUID(member.member_id)
    assert (entry["before"], entry["after"]) == (
        {"birth_date": None},
        {"birth_date": await seal(member_id, "1990-05-17")},
    )
    assert entry["after"]["birth_date"] != await seal(member_id, "1990-05-18")
    assert await entries("member.viewed") == []  # the answer's summary is not a page view


async def test_rules_publication(client: httpx.AsyncClient, admin: SignedInStaff) -> None:
    rules = (await client.get("/v1/admin/rules", headers=admin.headers)).json()
    published = await client.post("/v1/admin/rules", headers=admin.headers, json=rules["rules"])
    assert published.status_code == 201, published.text
    entry = await only("rules.published")
    assert_by(entry, admin, "admin", published)
    assert (entry["target_type"], entry["target_id"]) == ("rules", str(rules["version"] + 1))
    assert entry["before"]["version"] == rules["version"]


async def test_failed_change_leaves_no_entry(
    client: httpx.AsyncClient, admin: SignedInStaff
) -> None:
    refused = await open_store(
        client, admin, code="AUD-2", name="Nowhere", currency="RUB", time_zone="Mars/Olympus"
    )
    assert refused.status_code in (400, 422)
    assert await entries("store.created") == []


async def test_a_route_beyond_the_role_is_refused_and_audited(client: httpx.AsyncClient) -> None:
    till = await open_till()
    barista = await hire(client, "barista", [till.store_id])
    refused = await client.get("/v1/admin/audit", headers=barista.headers)
    assert refused.status_code == 403
    entry = await only("access.refused")
    assert_by(entry, barista, "barista", refused)
    assert (entry["target_type"], entry["target_id"]) == ("route", "GET /v1/admin/audit")
    assert entry["store_ids"] == [till.store_id]


async def test_campaign_creation_edit_and_moves(
    client: httpx.AsyncClient, admin: SignedInStaff
) -> None:
    till = await open_till()
    body = {
        "name": "Morning double",
        "rule": {"type": "multiplier", "factor": 2},
        "targeting": {"store_ids": [str(till.store_id)], "hours": {"from": "07:00", "to": "11:00"}},
    }
    created = await client.post("/v1/admin/campaigns", headers=admin.headers, json=body)
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    edited = await client.put(
        f"/v1/admin/campaigns/{campaign_id}",
        headers=admin.headers,
        json={**body, "name": "Morning triple", "rule": {"type": "multiplier", "factor": 3}},
    )
    assert edited.status_code == 200, edited.text
    published = await client.post(
        f"/v1/admin/campaigns/{campaign_id}/publish", headers=admin.headers
    )
    assert published.status_code == 200, published.text
    refused = await client.post(
        f"/v1/admin/campaigns/{campaign_id}/schedule", headers=admin.headers
    )
    assert refused.status_code == 409  # an active campaign is not scheduled: no entry

    entry = await only("campaign.created")
    assert_by(entry, admin, "admin", created)
    assert (entry["target_type"], entry["target_id"]) == ("campaign", campaign_id)
    assert entry["store_ids"] == [till.store_id]  # its store's managers see it
    entry = await only("campaign.updated")
    assert_by(entry, admin, "admin", edited)
    assert (entry["before"]["name"], entry["after"]["name"]) == ("Morning double", "Morning triple")
    entry = await only("campaign.published")
    assert_by(entry, admin, "admin", published)
    assert (entry["before"]["status"], entry["after"]["status"]) == ("draft", "active")
    assert await entries("campaign.scheduled") == []
