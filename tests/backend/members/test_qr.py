from __future__ import annotations

import httpx

from tests.conftest import LiveServer
from tests.factories import buy, log_in, open_till, purchase_body


async def test_a_qr_token_identifies_the_member_once(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till()
    member = await log_in(client, live_server.sms)
    issued = await client.get("/v1/me/qr", headers=member.headers)
    assert issued.headers["cache-control"] == "no-store"
    qr = issued.json()
    assert qr["expires_in"] == 60

    body = purchase_body(member.card_number)
    body["customer"] = {"qr_token": qr["qr_token"]}
    first = await buy(client, till, body)
    assert first.status_code == 201, first.text
    assert first.json()["member_id"] == member.member_id

    # A screenshot of the same code does not work a second time.
    body["external_id"] = "another-receipt"
    second = await buy(client, till, body)
    assert second.status_code == 404
    assert second.json()["code"] == "member_not_found"
