from __future__ import annotations

import httpx

from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, buy, purchase_body


async def test_a_qr_token_identifies_the_member_once(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    issued = await client.get("/v1/me/qr", headers=member.headers)
    assert issued.headers["cache-control"] == "no-store"
    qr = issued.json()
    assert qr["expires_in"] == 60

    body = purchase_body(member.card_number, customer={"qr_token": qr["qr_token"]})
    first = await buy(client, till, body)
    assert first.status_code == 201, first.text
    assert first.json()["member_id"] == member.member_id

    # A screenshot of the same code does not work a second time.
    body["external_id"] = "another-receipt"
    second = await buy(client, till, body)
    assert second.status_code == 404
    assert second.json()["code"] == "member_not_found"


async def test_the_card_on_screen_shows_a_working_token_as_a_qr_code(
    client: httpx.AsyncClient, live_server: LiveServer, till: Till, member: LoggedInMember
) -> None:
    from xml.etree import ElementTree

    from backend.members.qr import qr_svg

    drawn = await client.get("/v1/me/qr.svg", headers=member.headers)
    assert drawn.status_code == 200
    assert drawn.headers["content-type"].startswith("image/svg+xml")
    assert drawn.headers["cache-control"] == "no-store"
    assert ElementTree.fromstring(drawn.content).tag.endswith("svg")
    # The drawing is of exactly one live token: find it among those issued.
    redis = live_server.app.state.redis
    prefix = live_server.app.state.settings.redis_prefix
    tokens = [
        key.decode().removeprefix(f"{prefix}qr:") async for key in redis.scan_iter(f"{prefix}qr:*")
    ]
    shown = [token for token in tokens if qr_svg(token) == drawn.content]
    assert len(shown) == 1
    sale = await buy(
        client, till, purchase_body(member.card_number, customer={"qr_token": shown[0]})
    )
    assert sale.json()["member_id"] == member.member_id
