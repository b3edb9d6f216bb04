"""The fake payment provider keeps its protocol, signs its webhooks, and each switch works."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, Response, post

from backend.errors import Unauthorized
from backend.orders.webhook_signature import verify_signature
from devkit.fakes.payment_provider import NO_WEBHOOK_URL, PaymentProvider
from devkit.ports import free_port
from devkit.processes import AppProcess
from tests.conftest import serving
from tests.devkit.fakes.served import client_of

SECRET = "test-webhook-secret-0123456789"


@dataclass
class WebhookReceiver:
    """Our side of the webhook, reduced to what the provider must satisfy: a valid signature."""

    secret: str
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0

    def app(self) -> Litestar:
        @post("/v1/webhooks/payments", status_code=200)
        async def receive(request: Request[Any, Any, Any]) -> Response[dict[str, bool]]:
            body = await request.body()
            signature = request.headers.get("x-signature")
            try:
                timestamp = verify_signature(signature, body, [self.secret])
            except Unauthorized:
                self.rejected += 1
                return Response({"received": False}, status_code=401)
            self.deliveries.append(
                {"timestamp": timestamp, "signature": signature, "event": await request.json()}
            )
            return Response({"received": True}, status_code=200)

        return Litestar([receive], logging_config=None)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [delivery["event"] for delivery in self.deliveries]


@dataclass
class Setup:
    provider: PaymentProvider
    http: httpx.AsyncClient
    receiver: WebhookReceiver


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    receiver = WebhookReceiver(SECRET)
    async with serving(receiver.app()) as receiver_address:
        provider = PaymentProvider(
            webhook_url=f"http://{receiver_address}/v1/webhooks/payments",
            webhook_secret=SECRET,
        )
        async with client_of(provider) as http:
            yield Setup(provider, http, receiver)


def order(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": 45000,
        "currency": "RUB",
        "reference": str(uuid.uuid4()),
        "description": "Astrocoffee app order",
    }
    return body | fields


async def create(
    http: httpx.AsyncClient,
    body: Any,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    key = key or str(body["reference"])
    headers = {"Idempotency-Key": key} | (headers or {})
    return await http.post("/v1/payments", json=body, headers=headers, **kwargs)


async def test_a_payment_is_created_pending(setup: Setup) -> None:
    body = order()
    response = await create(setup.http, body)
    assert response.status_code == 201
    payment = response.json()
    assert payment["payment_id"].startswith("pay_")
    assert {k: payment[k] for k in ("status", "amount", "currency", "reference")} == {
        "status": "pending",
        "amount": 45000,
        "currency": "RUB",
        "reference": body["reference"],
    }
    created = datetime.fromisoformat(payment["created_at"])
    assert created.tzinfo is not None
    assert payment["updated_at"] == payment["created_at"]
    assert list(setup.provider.payments) == [payment["payment_id"]]
    assert setup.provider.creates == 1
    assert setup.receiver.deliveries == []  # nothing happens until it is settled


async def test_the_same_key_gets_the_same_payment_never_a_second(setup: Setup) -> None:
    body = order()
    first = (await create(setup.http, body)).json()
    again = await create(setup.http, body)
    assert again.status_code == 200
    assert again.json() == first
    conflict = await create(setup.http, body | {"amount": 1})
    assert conflict.status_code == 409
    assert "error" in conflict.json()
    assert len(setup.provider.payments) == 1
    assert setup.provider.creates == 3


async def test_creates_need_the_token_a_key_and_a_valid_body(setup: Setup) -> None:
    body = order()
    unauthorized = await create(setup.http, body, headers={"Authorization": "Bearer wrong"})
    assert unauthorized.status_code == 401
    no_key = await setup.http.post("/v1/payments", json=body)
    assert no_key.status_code == 400
    for bad in (
        order(amount="45000"),
        order(amount=True),
        order(amount=0),
        order(currency=""),
        {"amount": 100, "currency": "RUB"},  # no reference
        order(description=5),
        [body],
    ):
        response = await create(setup.http, bad, key=str(uuid.uuid4()))
        assert response.status_code == 400, bad
        assert "error" in response.json()
    assert setup.provider.payments == {}


async def test_a_payment_is_read_by_id_and_listed_by_day(setup: Setup) -> None:
    payment = (await create(setup.http, order())).json()
    fetched = await setup.http.get(f"/v1/payments/{payment['payment_id']}")
    assert fetched.status_code == 200
    assert fetched.json() == payment
    unknown = await setup.http.get("/v1/payments/pay_unknown")
    assert unknown.status_code == 404
    assert "error" in unknown.json()
    forbidden = await setup.http.get(
        f"/v1/payments/{payment['payment_id']}", headers={"Authorization": "Bearer wrong"}
    )
    assert forbidden.status_code == 401
    today = datetime.fromisoformat(payment["created_at"]).date().isoformat()
    listed = await setup.http.get("/v1/payments", params={"date": today})
    assert listed.json() == {"payments": [payment]}
    other_day = await setup.http.get("/v1/payments", params={"date": "2001-01-01"})
    assert other_day.json() == {"payments": []}
    for params in ({}, {"date": "today"}):
        assert (await setup.http.get("/v1/payments", params=params)).status_code == 400


async def test_settling_sends_a_signed_webhook(setup: Setup) -> None:
    payment = (await create(setup.http, order())).json()
    before = int(time.time())
    deliveries = await setup.provider.settle(payment["payment_id"])
    assert [result for result, _ in deliveries] == [200]
    assert setup.receiver.rejected == 0
    [delivery] = setup.receiver.deliveries
    assert delivery["timestamp"] >= before
    event = delivery["event"]
    assert event["id"].startswith("evt_")
    assert set(event) == {"id", "type", "data"}  # our receiver forbids unknown fields
    assert event["type"] == "payment.succeeded"
    assert event["data"] == {
        "payment_id": payment["payment_id"],
        "reference": payment["reference"],
        "amount": 45000,
        "currency": "RUB",
        "status": "succeeded",
    }
    assert setup.provider.webhooks_sent == [(200, event)]
    fetched = (await setup.http.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert fetched["status"] == "succeeded"
    assert fetched["updated_at"] >= fetched["created_at"]


async def test_a_failed_payment_sends_payment_failed(setup: Setup) -> None:
    payment = (await create(setup.http, order())).json()
    await setup.provider.settle(payment["payment_id"], "failed")
    [event] = setup.receiver.events
    assert event["type"] == "payment.failed"
    assert event["data"]["status"] == "failed"
    assert setup.provider.payments[payment["payment_id"]].status == "failed"
    with pytest.raises(ValueError, match="status"):
        await setup.provider.settle(payment["payment_id"], "refunded")
    with pytest.raises(KeyError):
        await setup.provider.settle("pay_unknown")


async def test_a_webhook_signed_with_another_secret_is_refused_by_the_receiver(
    setup: Setup,
) -> None:
    setup.provider.webhook_secret = "not-the-secret-we-share"
    payment = (await create(setup.http, order())).json()
    deliveries = await setup.provider.settle(payment["payment_id"])
    assert [result for result, _ in deliveries] == [401]
    assert setup.receiver.rejected == 1


async def test_settle_over_http(setup: Setup) -> None:
    payment = (await create(setup.http, order())).json()
    response = await setup.http.post(
        "/_settle", json={"payment_id": payment["payment_id"], "status": "failed"}
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["payment"]["status"] == "failed"
    assert [d["result"] for d in answer["deliveries"]] == [200]
    assert setup.receiver.events == [answer["deliveries"][0]["event"]]
    bad_status = await setup.http.post(
        "/_settle", json={"payment_id": payment["payment_id"], "status": "maybe"}
    )
    assert bad_status.status_code == 400
    unknown = await setup.http.post("/_settle", json={"payment_id": "pay_x"})
    assert unknown.status_code == 404


async def test_duplicate_webhooks_are_signed_afresh(setup: Setup) -> None:
    setup.provider.duplicate_webhooks = True
    payment = (await create(setup.http, order())).json()
    await setup.provider.settle(payment["payment_id"])
    first, second = setup.receiver.deliveries
    assert first["event"] == second["event"]  # one event, same id
    assert first["signature"] != second["signature"]  # so not a replay
    assert first["timestamp"] != second["timestamp"]
    assert setup.receiver.rejected == 0


async def test_reordered_webhooks_deliver_a_stale_failure_after_the_success(
    setup: Setup,
) -> None:
    setup.provider.reorder_webhooks = True
    payment = (await create(setup.http, order())).json()
    await setup.provider.settle(payment["payment_id"])
    succeeded, stale = setup.receiver.events
    assert (succeeded["type"], stale["type"]) == ("payment.succeeded", "payment.failed")
    assert succeeded["id"] != stale["id"]
    assert stale["data"]["payment_id"] == payment["payment_id"]
    # The provider's own record is the truth a poller would find.
    fetched = (await setup.http.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert fetched["status"] == "succeeded"


async def test_dropped_webhooks_leave_only_the_status_to_poll(setup: Setup) -> None:
    setup.provider.drop_webhooks = True
    payment = (await create(setup.http, order())).json()
    assert await setup.provider.settle(payment["payment_id"]) == []
    assert setup.receiver.deliveries == []
    assert setup.provider.webhooks_sent == []
    assert [e["type"] for e in setup.provider.webhooks_dropped] == ["payment.succeeded"]
    fetched = (await setup.http.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert fetched["status"] == "succeeded"


async def test_auto_settle_completes_payments_by_themselves(setup: Setup) -> None:
    setup.provider.auto_settle = "succeeded"
    setup.provider.auto_settle_delay_s = 0.2
    body = order()
    payment = (await create(setup.http, body)).json()
    await create(setup.http, body)  # a repeated create schedules nothing more
    assert setup.provider.payments[payment["payment_id"]].status == "pending"
    await setup.provider.drain()
    assert [e["type"] for e in setup.receiver.events] == ["payment.succeeded"]
    assert setup.provider.payments[payment["payment_id"]].status == "succeeded"


async def test_without_auto_settle_a_payment_stays_pending(setup: Setup) -> None:
    payment = (await create(setup.http, order())).json()
    await asyncio.sleep(0.2)
    await setup.provider.drain()
    fetched = (await setup.http.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert fetched["status"] == "pending"
    assert setup.receiver.deliveries == []


async def test_an_unreachable_webhook_url_is_recorded_not_raised(setup: Setup) -> None:
    setup.provider.webhook_url = f"http://127.0.0.1:{free_port()}/hook"
    payment = (await create(setup.http, order())).json()
    [(result, event)] = await setup.provider.settle(payment["payment_id"])
    assert result == "ConnectError"
    assert event["type"] == "payment.succeeded"
    setup.provider.webhook_url = None
    [(result, _)] = await setup.provider.settle(payment["payment_id"])
    assert result == NO_WEBHOOK_URL


async def test_fail_next_refuses_without_creating(setup: Setup) -> None:
    setup.provider.fail_next = 2
    body = order()
    assert [(await create(setup.http, body)).status_code for _ in range(3)] == [503, 503, 201]
    assert setup.provider.creates == 3
    assert len(setup.provider.payments) == 1


async def test_create_then_fail_creates_and_the_retry_gets_the_same_payment(
    setup: Setup,
) -> None:
    setup.provider.create_then_fail_next = 1
    body = order()
    assert (await create(setup.http, body)).status_code == 500
    [payment_id] = setup.provider.payments
    retry = await create(setup.http, body)
    assert retry.status_code == 200
    assert retry.json()["payment_id"] == payment_id


async def test_down_refuses_every_request(setup: Setup) -> None:
    payment = (await create(setup.http, order())).json()
    setup.provider.down = True
    assert (await create(setup.http, order())).status_code == 503
    assert (await setup.http.get(f"/v1/payments/{payment['payment_id']}")).status_code == 503
    assert (await setup.http.get("/v1/payments", params={"date": "2026-01-01"})).status_code == 503
    assert len(setup.provider.payments) == 1


async def test_delay_and_hang(setup: Setup) -> None:
    setup.provider.delay_s = 0.3
    started = time.monotonic()
    assert (await create(setup.http, order())).status_code == 201
    assert time.monotonic() - started >= 0.3
    setup.provider.delay_s = 0
    setup.provider.hang = True
    body = order()
    with pytest.raises(httpx.ReadTimeout):
        await create(setup.http, body, timeout=0.3)
    assert len(setup.provider.payments) == 1  # the held request created nothing
    pending = asyncio.create_task(create(setup.http, body))
    await asyncio.sleep(0.2)
    assert not pending.done()
    setup.provider.hang = False
    assert (await pending).status_code == 201


async def test_switches_over_http_and_state(setup: Setup) -> None:
    response = await setup.http.post(
        "/_control",
        json={"auto_settle": "failed", "auto_settle_delay_s": 0, "duplicate_webhooks": True},
    )
    assert response.status_code == 200
    assert response.json()["switches"]["auto_settle"] == "failed"
    assert setup.provider.duplicate_webhooks is True
    for bad in (
        {"auto_settle": "maybe"},
        {"drop_webhooks": 1},
        {"fail_next": -1},
        {"payments": {}},  # state, not a switch
        {"hang": True, "delay_s": "slow"},
    ):
        refused = await setup.http.post("/_control", json=bad)
        assert refused.status_code == 400, bad
    assert setup.provider.hang is False
    payment = (await create(setup.http, order())).json()
    await setup.provider.drain()
    state = (await setup.http.get("/_state")).json()
    assert state["creates"] == 1
    assert [p["status"] for p in state["payments"]] == ["failed"]
    assert [w["result"] for w in state["webhooks_sent"]] == [200, 200]
    assert state["webhooks_sent"][0]["event"]["data"]["payment_id"] == payment["payment_id"]
    await setup.http.post("/_control", json={"auto_settle": None})
    assert setup.provider.auto_settle is None


async def test_it_runs_as_a_process_and_delivers_webhooks(tmp_path: Path) -> None:
    receiver = WebhookReceiver(SECRET)
    async with (
        serving(receiver.app()) as receiver_address,
        AppProcess.module(
            "devkit.fakes.payment_provider",
            "--webhook-url",
            f"http://{receiver_address}/v1/webhooks/payments",
            "--webhook-secret",
            SECRET,
            "--auto-settle",
            "succeeded",
            "--auto-settle-delay-s",
            "0",
            log=tmp_path / "provider.log",
        ) as fake,
    ):
        await fake.ready("/_state", any_answer=True)  # as `make run` runs it
        async with httpx.AsyncClient(
            base_url=fake.base_url, headers={"Authorization": "Bearer provider-token"}
        ) as http:
            payment = (await create(http, order())).json()
            for _ in range(100):
                if receiver.deliveries:
                    break
                await asyncio.sleep(0.05)
            assert [e["data"]["payment_id"] for e in receiver.events] == [payment["payment_id"]]
            await http.post("/_control", json={"auto_settle": None, "reorder_webhooks": True})
            second = (await create(http, order())).json()
            assert second["status"] == "pending"
            settled = await http.post("/_settle", json={"payment_id": second["payment_id"]})
            assert [d["result"] for d in settled.json()["deliveries"]] == [200, 200]
    assert receiver.rejected == 0
    assert [e["type"] for e in receiver.events] == [
        "payment.succeeded",
        "payment.succeeded",
        "payment.failed",
    ]
    logged = await asyncio.to_thread((tmp_path / "provider.log").read_text)
    assert "webhook payment.succeeded" in logged
