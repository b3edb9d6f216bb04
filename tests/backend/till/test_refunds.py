from __future__ import annotations

import httpx

from backend.loyalty.rules import ProgramRules, publish_rules
from db.tables import LedgerEntry, Refund
from tests.factories import (
    LoggedInMember,
    Till,
    assert_problem,
    grant,
    open_till,
    post_as,
    sell,
)


async def balance(client: httpx.AsyncClient, member: LoggedInMember) -> dict[str, int]:
    return dict((await client.get("/v1/me", headers=member.headers)).json()["balance"])


async def refund(
    client: httpx.AsyncClient, till: Till, purchase_id: str, amount: int
) -> httpx.Response:
    return await post_as(client, till, f"/v1/purchases/{purchase_id}/refunds", {"amount": amount})


async def test_a_full_refund_reverses_earned_and_returns_redeemed_points(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    await grant(member.member_id, 100)
    sale = (await sell(client, till, member, 40000, redeem_points=100)).json()
    assert (sale["points_redeemed"], sale["points_earned"]) == (100, 15)
    assert await balance(client, member) == {"available": 15, "pending": 0, "held": 0}

    response = await refund(client, till, sale["purchase_id"], 40000)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["points_reversed"], body["points_returned"]) == (15, 100)
    assert body["fully_refunded"] is True
    assert await balance(client, member) == {"available": 100, "pending": 0, "held": 0}


async def test_partial_refunds_add_up_exactly_to_a_full_one(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    await grant(member.member_id, 77)
    sale = (await sell(client, till, member, 33333, redeem_points=77)).json()
    reversed_total = returned_total = 0
    for amount in (10000, 10000, 13333):
        body = (await refund(client, till, sale["purchase_id"], amount)).json()
        reversed_total += body["points_reversed"]
        returned_total += body["points_returned"]
    assert (reversed_total, returned_total) == (sale["points_earned"], 77)
    assert body["fully_refunded"] is True
    too_much = await refund(client, till, sale["purchase_id"], 1)
    assert_problem(too_much, 422, "refund_exceeds_purchase")
    assert await Refund.count() == 3


async def test_spent_points_make_the_balance_negative_by_the_reversal_only(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    sale = (await sell(client, till, member, 100000)).json()
    assert sale["points_earned"] == 50
    spend = await sell(client, till, member, 20000, redeem_points=50)
    assert spend.status_code == 201
    # 150.00 paid after the discount earns 7.
    assert await balance(client, member) == {"available": 7, "pending": 0, "held": 0}

    await refund(client, till, sale["purchase_id"], 100000)
    assert await balance(client, member) == {"available": -43, "pending": 0, "held": 0}
    history = (await client.get("/v1/me/transactions", headers=member.headers)).json()["items"]
    assert history[0]["kind"] == "refund_reversal"
    assert history[0]["points"] == -50

    # The next purchase pays the debt off first.
    await sell(client, till, member, 200000)
    assert await balance(client, member) == {"available": -43 + 100, "pending": 0, "held": 0}


async def test_refunding_within_the_return_window_takes_back_pending_points(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    import uuid

    await publish_rules(ProgramRules(return_window_days=14), staff_id=uuid.uuid4())
    sale = (await sell(client, till, member, 40000)).json()
    assert await balance(client, member) == {"available": 0, "pending": 20, "held": 0}
    await refund(client, till, sale["purchase_id"], 20000)
    assert await balance(client, member) == {"available": 0, "pending": 10, "held": 0}
    kinds = [e["kind"] for e in await LedgerEntry.select(LedgerEntry.kind).order_by(LedgerEntry.id)]
    assert kinds == ["earn", "refund_reversal"]


async def test_refunds_are_idempotent_and_store_scoped(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    sale = (await sell(client, till, member, 40000)).json()
    path = f"/v1/purchases/{sale['purchase_id']}/refunds"
    first = await post_as(client, till, path, {"amount": 10000}, key="refund-1")
    again = await post_as(client, till, path, {"amount": 10000}, key="refund-1")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await Refund.count() == 1
    stranger = await post_as(client, await open_till(), path, {"amount": 10000})
    assert stranger.status_code == 404
