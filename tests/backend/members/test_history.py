from __future__ import annotations

import uuid

import httpx

from tests.conftest import LiveServer
from tests.factories import buy, hire, log_in, open_till, purchase_body


async def test_history_is_newest_first_and_pages_without_overlap(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till()
    member = await log_in(client, live_server.sms)
    for amount in (20000, 40000, 60000, 80000, 100000):
        await buy(client, till, purchase_body(member.card_number, amount=amount))
    seen: list[int] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/v1/me/transactions{query}", headers=member.headers)).json()
        seen += [item["points"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [50, 40, 30, 20, 10]


async def test_a_bad_cursor_is_a_validation_problem(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    member = await log_in(client, live_server.sms)
    response = await client.get("/v1/me/transactions?cursor=nope", headers=member.headers)
    assert response.status_code == 400
    too_many = await client.get("/v1/me/transactions?limit=1000", headers=member.headers)
    assert too_many.status_code == 400


async def test_staff_read_a_members_history_as_the_member_does(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till()
    member = await log_in(client, live_server.sms)
    for amount in (20000, 40000):
        await buy(client, till, purchase_body(member.card_number, amount=amount))
    barista = await hire(client, "barista", [till.store_id])
    own = (await client.get("/v1/me/transactions", headers=member.headers)).json()
    path = f"/v1/admin/members/{member.member_id}/transactions"
    seen = await client.get(path, headers=barista.headers)
    assert seen.status_code == 200, seen.text
    assert seen.json() == own
    paged = (await client.get(f"{path}?limit=1", headers=barista.headers)).json()
    assert [item["points"] for item in paged["items"]] == [20]

    nobody = await client.get(
        f"/v1/admin/members/{uuid.uuid4()}/transactions", headers=barista.headers
    )
    assert nobody.status_code == 404
    assert nobody.json()["code"] == "member_not_found"
