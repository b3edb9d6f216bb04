from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from backend.till.checkout_expiry import expire_holds
from db.tables import Checkout, LedgerEntry, MemberEvent, Purchase
from realtime.publisher import EventPublisher
from tests.conftest import LiveServer
from tests.factories import (
    LoggedInMember,
    Till,
    assert_problem,
    grant,
    log_in,
    on_checkout,
    open_checkout,
    open_till,
    post_as,
    purchase_body,
)


@pytest.fixture
async def member(client: httpx.AsyncClient, live_server: LiveServer) -> LoggedInMember:
    member = await log_in(client, live_server.sms)
    await grant(member.member_id, 300)
    return member


@pytest.fixture
async def quote(client: httpx.AsyncClient, till: Till, member: LoggedInMember) -> dict[str, Any]:
    """A checkout of 400.00 opened at the till for the member."""
    return await open_checkout(client, till, member)


async def me(client: httpx.AsyncClient, member: LoggedInMember) -> dict[str, int]:
    return dict((await client.get("/v1/me", headers=member.headers)).json()["balance"])


async def test_quote_hold_complete(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, quote: dict[str, Any]
) -> None:
    assert quote["status"] == "open"
    assert quote["max_redeemable_points"] == 200  # half of 400.00
    assert quote["points_to_earn"] == 20  # 5 % of 400.00

    held = await on_checkout(client, till, quote, "hold", {"points": 150})
    assert held.status_code == 200, held.text
    assert held.json()["status"] == "held"
    assert await me(client, member) == {"available": 150, "pending": 0, "held": 150}

    done = await on_checkout(
        client, till, quote, "complete", {"payment_ref": "pay-1", "paid_amount": 25000}
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "completed"
    assert body["purchase"]["points_redeemed"] == 150
    assert body["purchase"]["points_earned"] == 12  # 5 % of the 250.00 actually paid
    assert await me(client, member) == {"available": 162, "pending": 0, "held": 0}
    kinds = [e["kind"] for e in await LedgerEntry.select(LedgerEntry.kind).order_by(LedgerEntry.id)]
    assert kinds == ["adjustment", "hold", "capture", "earn"]
    assert await Purchase.count() == 1


async def test_changing_the_hold_replaces_it(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, quote: dict[str, Any]
) -> None:
    await on_checkout(client, till, quote, "hold", {"points": 100})
    await on_checkout(client, till, quote, "hold", {"points": 40})
    assert await me(client, member) == {"available": 260, "pending": 0, "held": 40}
    await on_checkout(client, till, quote, "hold", {"points": 0})
    assert await me(client, member) == {"available": 300, "pending": 0, "held": 0}


async def test_cancel_voids_the_hold_and_is_repeatable(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, quote: dict[str, Any]
) -> None:
    await on_checkout(client, till, quote, "hold", {"points": 120})
    first = await on_checkout(client, till, quote, "cancel")
    second = await on_checkout(client, till, quote, "cancel")
    assert first.json()["status"] == second.json()["status"] == "cancelled"
    assert await me(client, member) == {"available": 300, "pending": 0, "held": 0}
    late = await on_checkout(
        client, till, quote, "complete", {"payment_ref": "p", "paid_amount": 100}
    )
    assert_problem(late, 409, "checkout_not_open")


async def test_an_unfinished_hold_is_voided_by_the_sweeper(
    client: httpx.AsyncClient,
    till: Till,
    member: LoggedInMember,
    quote: dict[str, Any],
    live_server: LiveServer,
) -> None:
    await on_checkout(client, till, quote, "hold", {"points": 80})
    publisher = EventPublisher(
        redis=live_server.app.state.redis, prefix=live_server.app.state.settings.redis_prefix
    )
    assert await expire_holds(publisher, now=datetime.now(UTC)) == 0  # not yet
    later = datetime.now(UTC) + timedelta(hours=1)
    assert await expire_holds(publisher, now=later) == 1
    assert await expire_holds(publisher, now=later) == 0  # re-runnable
    assert await me(client, member) == {"available": 300, "pending": 0, "held": 0}
    checkout = (
        await Checkout.objects().where(Checkout.id == uuid.UUID(str(quote["checkout_id"]))).first()
    )
    assert checkout is not None and checkout.status == "expired"
    types = [
        e["type"] for e in await MemberEvent.select(MemberEvent.type).order_by(MemberEvent.seq)
    ]
    assert types.count("hold.updated") == 2


async def test_holds_cannot_exceed_the_cap_or_the_balance(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    quote = await open_checkout(client, till, member, amount=100000)
    over_cap = await on_checkout(client, till, quote, "hold", {"points": 501})
    assert over_cap.json()["code"] == "redeem_cap_exceeded"
    over_balance = await on_checkout(client, till, quote, "hold", {"points": 301})
    assert over_balance.json()["code"] == "insufficient_points"
    assert await me(client, member) == {"available": 300, "pending": 0, "held": 0}


async def test_paying_more_than_owed_is_refused(
    client: httpx.AsyncClient, till: Till, quote: dict[str, Any]
) -> None:
    await on_checkout(client, till, quote, "hold", {"points": 100})
    response = await on_checkout(
        client, till, quote, "complete", {"payment_ref": "p", "paid_amount": 40000}
    )
    assert response.status_code == 409
    assert response.json()["extra"]["owed"] == 30000


async def test_another_stores_checkout_does_not_exist_for_this_till(
    client: httpx.AsyncClient, quote: dict[str, Any]
) -> None:
    other = await open_till()
    response = await on_checkout(client, other, quote, "cancel")
    assert response.status_code == 404


async def test_complete_is_idempotent(
    client: httpx.AsyncClient, till: Till, quote: dict[str, Any]
) -> None:
    body = {"payment_ref": "p", "paid_amount": 40000}
    first = await on_checkout(client, till, quote, "complete", body, key="complete-1")
    again = await on_checkout(client, till, quote, "complete", body, key="complete-1")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await Purchase.count() == 1


async def test_two_checkouts_for_one_receipt_at_once_give_one_checkout_and_one_409(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    body = purchase_body(member.card_number, amount=40000)
    for _ in range(5):  # the race is the point: try it a few times
        body = {**body, "external_id": f"receipt-{uuid.uuid4().hex[:12]}"}
        answers = await asyncio.gather(
            *(post_as(client, till, "/v1/checkouts", body) for _ in range(2))
        )
        assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
        refused = next(a for a in answers if a.status_code == 409)
        assert refused.json()["code"] == "external_id_reused"
        assert await Checkout.count().where(Checkout.external_id == body["external_id"]) == 1


# A step runs once per Idempotency-Key: a settled key replays its answer, another request
# under it is refused (422), duplicates racing each other settle once.


async def test_open_replays_under_its_key_and_refuses_another_body(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    body = purchase_body(member.card_number, amount=40000)
    first = await post_as(client, till, "/v1/checkouts", body, key="open-1")
    again = await post_as(client, till, "/v1/checkouts", body, key="open-1")
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json() == first.json()
    assert await Checkout.count().where(Checkout.external_id == body["external_id"]) == 1
    other = await post_as(client, till, "/v1/checkouts", {**body, "amount": 30000}, key="open-1")
    assert_problem(other, 422, "idempotency_key_reused")


async def test_hold_replays_under_its_key_and_refuses_another_body(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    quote = await open_checkout(client, till, member)
    first = await on_checkout(client, till, quote, "hold", {"points": 100}, key="hold-1")
    again = await on_checkout(client, till, quote, "hold", {"points": 100}, key="hold-1")
    assert first.status_code == again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await me(client, member) == {"available": 200, "pending": 0, "held": 100}
    other = await on_checkout(client, till, quote, "hold", {"points": 50}, key="hold-1")
    assert_problem(other, 422, "idempotency_key_reused")
    # The key of one step is not another step's.
    body = {"payment_ref": "p", "paid_amount": 30000}
    reused = await on_checkout(client, till, quote, "complete", body, key="hold-1")
    assert_problem(reused, 422, "idempotency_key_reused")


async def test_duplicates_racing_settle_once(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    quote = await open_checkout(client, till, member)
    answers = await asyncio.gather(
        *(on_checkout(client, till, quote, "hold", {"points": 100}, key="race") for _ in range(3))
    )
    codes = [a.status_code for a in answers]
    assert set(codes) <= {200, 409} and 200 in codes, [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["code"] == "idempotent_request_in_progress"
    settled: list[Any] = [a.json() for a in answers if a.status_code == 200]
    assert all(answer == settled[0] for answer in settled)
    holds = await LedgerEntry.count().where(LedgerEntry.kind == "hold")
    assert holds == 1
    assert await me(client, member) == {"available": 200, "pending": 0, "held": 100}
