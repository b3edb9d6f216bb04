"""A checkout's steps run once per Idempotency-Key: a settled key replays its answer, another
request under it is refused (422), duplicates racing each other settle once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from db.tables import Checkout, LedgerEntry
from tests.conftest import LiveServer
from tests.factories import (
    LoggedInMember,
    Till,
    assert_problem,
    grant,
    log_in,
    on_checkout,
    open_checkout,
    post_as,
    purchase_body,
)


@pytest.fixture
async def member(client: httpx.AsyncClient, live_server: LiveServer) -> LoggedInMember:
    member = await log_in(client, live_server.sms)
    await grant(member.member_id, 300)
    return member


async def balance(client: httpx.AsyncClient, member: LoggedInMember) -> dict[str, int]:
    return dict((await client.get("/v1/me", headers=member.headers)).json()["balance"])


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
    assert await balance(client, member) == {"available": 200, "pending": 0, "held": 100}
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
    assert await balance(client, member) == {"available": 200, "pending": 0, "held": 100}
