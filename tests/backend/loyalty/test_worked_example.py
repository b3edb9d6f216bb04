"""The worked example of docs/ledger.md, step by step, so the document stays true."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from backend.loyalty.expiry import expire_points
from db.tables import PointLot
from realtime.publisher import EventPublisher
from tests.conftest import LiveServer
from tests.factories import buy, log_in, open_till, post_as, purchase_body


async def test_the_worked_example(client: httpx.AsyncClient, live_server: LiveServer) -> None:
    till = await open_till()
    member = await log_in(client, live_server.sms)

    async def balance() -> tuple[int, int, int]:
        b = (await client.get("/v1/me", headers=member.headers)).json()["balance"]
        return b["available"], b["pending"], b["held"]

    first = (await buy(client, till, purchase_body(member.card_number, amount=40000))).json()
    assert first["points_earned"] == 20
    assert await balance() == (20, 0, 0)

    quote = (
        await post_as(
            client, till, "/v1/checkouts", purchase_body(member.card_number, amount=30000)
        )
    ).json()
    assert quote["max_redeemable_points"] == 20
    await post_as(client, till, f"/v1/checkouts/{quote['checkout_id']}/hold", {"points": 20})
    assert await balance() == (0, 0, 20)

    done = await post_as(
        client,
        till,
        f"/v1/checkouts/{quote['checkout_id']}/complete",
        {"payment_ref": "pay-1", "paid_amount": 28000},
    )
    assert done.json()["purchase"]["points_earned"] == 14
    assert await balance() == (14, 0, 0)

    await post_as(client, till, f"/v1/purchases/{first['purchase_id']}/refunds", {"amount": 40000})
    assert await balance() == (-6, 0, 0)

    await buy(client, till, purchase_body(member.card_number, amount=20000))
    assert await balance() == (4, 0, 0)
    assert sorted(r["remaining"] for r in await PointLot.select(PointLot.remaining)) == [0, 0, 4]

    state = live_server.app.state
    publisher = EventPublisher(redis=state.redis, prefix=state.settings.redis_prefix)
    assert await expire_points(publisher, now=datetime.now(UTC) + timedelta(days=366)) == 4
    assert await balance() == (0, 0, 0)
