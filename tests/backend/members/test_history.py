from __future__ import annotations

import httpx

from tests.conftest import LiveServer
from tests.factories import buy, log_in, open_till, purchase_body


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
