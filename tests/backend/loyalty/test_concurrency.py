"""Many tills at one account at once, over real HTTP and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from db.tables import Account, Checkout, Purchase
from tests.factories import (
    LoggedInMember,
    Till,
    another_till,
    grant,
    on_checkout,
    open_checkout,
    post_as,
    purchase_body,
)

PARALLEL = 60


async def account_of(member: LoggedInMember) -> dict[str, Any] | None:
    """The member's available and held points, as the accounts table has them."""
    row: dict[str, Any] | None = (
        await Account.select(Account.available, Account.held)
        .where(Account.member == uuid.UUID(member.member_id))
        .first()
    )
    return row


async def test_parallel_redemptions_and_holds_never_overdraw_nor_deadlock(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    await grant(member.member_id, 1000)
    tills = [till] + [await another_till(till.store_id) for _ in range(3)]
    # Checkouts opened beforehand; each of half the requests holds 50 points on one.
    checkouts = [
        await open_checkout(client, tills[i % 4], member, amount=10000)
        for i in range(PARALLEL // 2)
    ]

    async def redeem(i: int) -> httpx.Response:
        # 100.00 check: 50 points pay half; the 50.00 paid earns 2 points.
        body = purchase_body(member.card_number, amount=10000, redeem_points=50)
        return await post_as(client, tills[i % 4], "/v1/purchases", body)

    async def hold(i: int) -> httpx.Response:
        return await on_checkout(client, tills[i % 4], checkouts[i], "hold", {"points": 50})

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
    account = await account_of(member)
    assert account is not None
    assert account["available"] >= 0
    assert account["held"] == held
    assert account["available"] == 1000 - redeemed - held + earned
    assert redeemed + held <= 1000 + earned
    assert statuses.count(422) > 0  # the account really ran dry


async def test_the_same_hold_sent_fifty_times_at_once_has_one_effect(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    await grant(member.member_id, 500)
    checkout = await open_checkout(client, till, member, amount=20000)
    responses = await asyncio.gather(
        *(
            on_checkout(client, till, checkout, "hold", {"points": 70}, "one-hold")
            for _ in range(50)
        )
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}
    ok = [r for r in responses if r.status_code == 200]
    assert ok
    assert all(r.json()["held_points"] == 70 for r in ok)
    assert await account_of(member) == {"available": 430, "held": 70}
