from __future__ import annotations

import uuid

import httpx

from db.tables import LedgerEntry
from tests.backend.loyalty.support import adjust, staff_entries
from tests.factories import LoggedInMember, SignedInStaff, Till, hire, sell


async def look_up(client: httpx.AsyncClient, staff: SignedInStaff, query: str) -> httpx.Response:
    return await client.get(f"/v1/admin/members?{query}", headers=staff.headers)


async def test_a_manager_adjusts_with_a_reason_that_is_recorded(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    manager = await hire(client, "manager", [till.store_id])
    assert (await sell(client, till, member)).status_code == 201  # a customer of their store
    found = await look_up(client, manager, f"card_number={member.card_number}")
    assert found.json()["member_id"] == member.member_id

    cold = {"points": 40, "reason": "coffee was cold"}
    added = await adjust(client, manager, member.member_id, cold, key="adj-1")
    assert added.status_code == 201, added.text
    assert added.json()["status"] == "posted"
    earned = added.json()["balance"]["available"] - 40
    replay = await adjust(client, manager, member.member_id, cold, key="adj-1")
    assert replay.headers["idempotent-replayed"] == "true"

    double = {"points": -15, "reason": "double credit"}
    taken = await adjust(client, manager, member.member_id, double, key="adj-2")
    assert taken.json()["balance"]["available"] == earned + 25
    entries = await staff_entries(
        LedgerEntry.available_delta, LedgerEntry.cause_type, LedgerEntry.cause_id, LedgerEntry.note
    )
    staff_id = uuid.UUID(manager.staff_id)
    assert entries == [
        {
            "available_delta": 40,
            "cause_type": "staff",
            "cause_id": staff_id,
            "note": "coffee was cold",
        },
        {
            "available_delta": -15,
            "cause_type": "staff",
            "cause_id": staff_id,
            "note": "double credit",
        },
    ]


async def test_adjustments_need_a_reason_and_cannot_overdraw(
    client: httpx.AsyncClient, admin: SignedInStaff, member: LoggedInMember
) -> None:
    for body in (
        {"points": 10},
        {"points": 10, "reason": "  "},
        {"points": 0, "reason": "nothing"},
    ):
        assert (await adjust(client, admin, member.member_id, body)).status_code == 400, body
    overdraw = await adjust(client, admin, member.member_id, {"points": -1, "reason": "too much"})
    assert overdraw.status_code == 422
    assert await LedgerEntry.count() == 0


async def test_baristas_look_up_but_do_not_adjust(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    barista = await hire(client, "barista", [till.store_id])
    found = await look_up(client, barista, f"card_number={member.card_number}")
    assert found.status_code == 200  # by phone: refused (tests/backend/members/test_look_up)
    refused = await adjust(
        client, barista, member.member_id, {"points": 5, "reason": "friend"}, key="x"
    )
    assert refused.status_code == 403
