from __future__ import annotations

import json
import time

import httpx
import pytest

from backend.orders.webhook_signature import sign
from backend.settings import DEV_WEBHOOK_SECRET
from db.tables import PaymentEvent

EVENT = {"id": "evt_1", "type": "payment.succeeded", "data": {"payment_id": "pay_9"}}


def signed(
    body: bytes, *, secret: str = DEV_WEBHOOK_SECRET, at: int | None = None
) -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    return {
        "X-Signature": f"t={timestamp},v1={sign(secret, timestamp, body)}",
        "Content-Type": "application/json",
    }


async def post(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/v1/webhooks/payments", content=body, headers=headers)


async def test_a_signed_event_is_recorded_once(client: httpx.AsyncClient) -> None:
    body = json.dumps(EVENT).encode()
    first = await post(client, body, signed(body))
    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "duplicate": False}
    # The provider's retry is signed afresh: acknowledged, not recorded again.
    again = await post(client, body, signed(body, at=int(time.time()) + 1))
    assert again.json() == {"received": True, "duplicate": True}
    assert await PaymentEvent.count() == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Signature": "garbage"},
        {"X-Signature": "t=abc,v1=00"},
        signed(b"another body"),
        signed(json.dumps(EVENT).encode(), secret="not-the-secret-at-all"),
        signed(json.dumps(EVENT).encode(), at=int(time.time()) - 400),
        signed(json.dumps(EVENT).encode(), at=int(time.time()) + 900),
    ],
    ids=["missing", "garbage", "bad-timestamp", "other-body", "wrong-secret", "stale", "future"],
)
async def test_a_bad_or_stale_signature_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await post(client, json.dumps(EVENT).encode(), headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await PaymentEvent.count() == 0


async def test_a_replayed_delivery_is_refused(client: httpx.AsyncClient) -> None:
    body = json.dumps(EVENT).encode()
    headers = signed(body)
    assert (await post(client, body, headers)).status_code == 200
    replay = await post(client, body, headers)
    assert replay.status_code == 401
    assert "replay" in replay.json()["detail"]


async def test_a_signed_but_malformed_body_is_a_validation_problem(
    client: httpx.AsyncClient,
) -> None:
    body = b'{"id": "evt_2"}'
    response = await post(client, body, signed(body))
    assert response.status_code == 400
    assert await PaymentEvent.count() == 0
