"""Many tills at one account at once, over real HTTP and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from db.tables import Account, Checkout, Purchase
from tests.conftest import LiveServer
from tests.factories import another_till, grant, log_in, open_till, post_as, purchase_body

PARALLEL = 60


async def test_parallel_redemptions_and_holds_never_overdraw_nor_deadlock(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    member = await log_in(client, live_server.sms)
    await grant(member.member_id, 1000)
    till = await open_till()
    tills = [till] + [await another_till(till.store_id) for _ in range(3)]
    # Checkouts opened beforehand; each of half the requests holds 50 points on one.
    checkouts = [
        (
            await post_as(
                client,
                tills[i % 4],
                "/v1/checkouts",
                purchase_body(member.card_number, amount=10000),
            )
        ).json()
        for i in range(PARALLEL // 2)
    ]

    async def redeem(i: int) -> httpx.Response:
        # 100.00 check: 50 points pay half; the 50.00 paid earns 2 points.
        body = purchase_body(member.card_number, amount=10000, redeem_points=50)
        return await post_as(client, tills[i % 4], "/v1/purchases", body)

    async def hold(i: int) -> httpx.Response:
        checkout_id = checkouts[i]["checkout_id"]
        return await post_as(
            client, tills[i % 4], f"/v1/checkouts/{checkout_id}/hold", {"points": 50}
        )

    responses = await asyncio.wait_for(
        asyncio.gather(
            *(redeem(i) for i in range(PARALLEL // 2)), *(hold(i) for i in range(PARALLEL // 2))
        ),
        timeout=120,  # a deadlock would hang here (or surface as a 5xx from PostgreSQL)
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 201, 422}, statuses
    refused = [r.json()["code"] for r in responses if r.status_code == 422]
    assert set(refused) <= {"insufficient_points"}

    redeemed = 50 * await Purchase.count()
    held = 50 * await Checkout.count().where(Checkout.status == "held")
    earned = 2 * await Purchase.count()
    account = (
        await Account.select(Account.available, Account.held)
        .where(Account.member == uuid.UUID(member.member_id))
        .first()
    )
    assert account is not None
    assert account["available"] >= 0
    assert account["held"] == held
    assert account["available"] == 1000 - redeemed - held + earned
    assert redeemed + held <= 1000 + earned
    assert statuses.count(422) > 0  # the account really ran dry


async def test_the_same_hold_sent_fifty_times_at_once_has_one_effect(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    member = await log_in(client, live_server.sms)
    await grant(member.member_id, 500)
    till = await open_till()
    checkout = (
        await post_as(
            client, till, "/v1/checkouts", purchase_body(member.card_number, amount=20000)
        )
    ).json()
    path = f"/v1/checkouts/{checkout['checkout_id']}/hold"
    responses = await asyncio.gather(
        *(post_as(client, till, path, {"points": 70}, key="one-hold") for _ in range(50))
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}
    ok = [r for r in responses if r.status_code == 200]
    assert ok
    assert all(r.json()["held_points"] == 70 for r in ok)
    account = (
        await Account.select(Account.available, Account.held)
        .where(Account.member == uuid.UUID(member.member_id))
        .first()
    )
    assert account == {"available": 430, "held": 70}
