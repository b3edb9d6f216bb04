from __future__ import annotations

import uuid

import httpx

from db.tables import LedgerEntry
from tests.conftest import LiveServer
from tests.factories import hire, log_in, open_till


async def test_a_manager_adjusts_with_a_reason_that_is_recorded(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till()
    manager = await hire(client, "manager", [till.store_id])
    member = await log_in(client, live_server.sms)
    found = await client.get(
        f"/v1/admin/members?card_number={member.card_number}", headers=manager.headers
    )
    assert found.json()["member_id"] == member.member_id

    path = f"/v1/admin/members/{member.member_id}/adjustments"
    headers = {**manager.headers, "Idempotency-Key": "adj-1"}
    added = await client.post(
        path, headers=headers, json={"points": 40, "reason": "coffee was cold"}
    )
    assert added.status_code == 201, added.text
    assert added.json()["balance"]["available"] == 40
    replay = await client.post(
        path, headers=headers, json={"points": 40, "reason": "coffee was cold"}
    )
    assert replay.headers["idempotent-replayed"] == "true"

    taken = await client.post(
        path,
        headers={**manager.headers, "Idempotency-Key": "adj-2"},
        json={"points": -15, "reason": "double credit"},
    )
    assert taken.json()["balance"]["available"] == 25
    entries = await LedgerEntry.select(
        LedgerEntry.available_delta, LedgerEntry.cause_type, LedgerEntry.cause_id, LedgerEntry.note
    ).order_by(LedgerEntry.id)
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
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    admin = await hire(client, "admin")
    member = await log_in(client, live_server.sms)
    path = f"/v1/admin/members/{member.member_id}/adjustments"

    async def adjust(body: dict[str, object]) -> httpx.Response:
        return await client.post(
            path, headers={**admin.headers, "Idempotency-Key": uuid.uuid4().hex}, json=body
        )

    assert (await adjust({"points": 10})).status_code == 400
    assert (await adjust({"points": 10, "reason": "  "})).status_code == 400
    assert (await adjust({"points": 0, "reason": "nothing"})).status_code == 400
    overdraw = await adjust({"points": -1, "reason": "too much"})
    assert overdraw.status_code == 422
    assert await LedgerEntry.count() == 0


async def test_baristas_look_up_but_do_not_adjust(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till()
    barista = await hire(client, "barista", [till.store_id])
    member = await log_in(client, live_server.sms)
    found = await client.get(
        f"/v1/admin/members?phone=%2B{member.phone[1:]}", headers=barista.headers
    )
    assert found.status_code == 200
    refused = await client.post(
        f"/v1/admin/members/{member.member_id}/adjustments",
        headers={**barista.headers, "Idempotency-Key": "x"},
        json={"points": 5, "reason": "friend"},
    )
    assert refused.status_code == 403
