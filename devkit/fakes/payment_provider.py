"""A payment provider speaking the protocol the app-orders payments use: an external system.

It stands in for the provider that takes app orders' card payments: payments are created
pending, complete later, and the provider tells us with a signed webhook (checked by
``backend.orders.webhook_signature``). Tests run it in-process on a real uvicorn
(``tests.conftest.serving(PaymentProvider(webhook_url=...).app())``) and set its switches as
attributes; development runs it as a process (``python -m devkit.fakes.payment_provider --port
8092 --webhook-url http://127.0.0.1:8000/v1/webhooks/payments --webhook-secret <s>``) and sets
them over HTTP (``POST /_control``).

Protocol (``Authorization: Bearer <token>`` on every ``/v1`` request, else 401):

- ``POST /v1/payments`` with ``Idempotency-Key`` (else 400) and ``{"amount": int > 0,
  "currency": str, "reference": str, "description": str}`` (else 400). A new key: 201, the
  payment, ``pending``. The same key with the same body: 200, the same payment. The same key
  with another body: 409 (a second payment is never made for one key).
- ``GET /v1/payments/{payment_id}``: the payment, or 404 ``{"error": ...}``.
- ``GET /v1/payments?date=YYYY-MM-DD``: ``{"payments": [...]}`` created that UTC day.
- A payment completes with ``settle()`` (or ``POST /_settle``, or ``auto_settle``): its status
  changes and ``{"id": "evt_...", "type": "payment.succeeded"|"payment.failed", "data":
  {"payment_id", "reference", "amount", "currency", "status"}}`` is POSTed to ``webhook_url``
  with ``X-Signature: t=<unix>,v1=<HMAC-SHA256(secret, "<t>." + body)>``.

Test-only endpoints, never affected by the switches: ``POST /_control`` (switch name -> value),
``GET /_state``, ``POST /_settle`` ``{"payment_id", "status"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import httpx
from litestar import Litestar, Request, Response, get, post

from backend.orders.webhook_signature import sign
from backend.settings import DEV_EXTERNAL_SYSTEMS, DEV_WEBHOOK_SECRET
from devkit.fakes.base import (
    FAULTS,
    FakeSystem,
    Switches,
    count,
    error,
    flag,
    json_object,
    seconds,
    text,
)

# Where development's settings look for this system, and the token they send it
# (backend.settings.DEV_EXTERNAL_SYSTEMS): one definition for both sides.
_DEV_URL, DEV_TOKEN = DEV_EXTERNAL_SYSTEMS["payment_provider"]
DEV_PORT = int(_DEV_URL.rsplit(":", 1)[1])

log = logging.getLogger("fakes.payment_provider")

STATUSES = ("succeeded", "failed")

# What webhooks_sent records instead of a status code when nothing could be sent.
NO_WEBHOOK_URL = "no webhook_url"


def _url(value: Any) -> str | None:
    return None if value is None else text(value)


def _outcome(value: Any) -> str | None:
    if value is not None and value not in STATUSES:
        raise ValueError(f"must be null or one of {STATUSES}")
    return None if value is None else str(value)


@dataclass
class Payment:
    payment_id: str
    idempotency_key: str
    request: dict[str, Any]  # the create body, compared with repeated creates under the key
    amount: int
    currency: str
    reference: str
    description: str
    status: str
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id,
            "status": self.status,
            "amount": self.amount,
            "currency": self.currency,
            "reference": self.reference,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass
class PaymentProvider(FakeSystem):
    """The provider's payments, its webhook deliveries, and the switches that make it
    misbehave (``fail_next``: the next N creates answer 503 and create nothing; ``down``,
    ``delay_s`` and ``hang`` as in ``FakeSystem``)."""

    token: str = DEV_TOKEN
    webhook_url: str | None = None
    webhook_secret: str = DEV_WEBHOOK_SECRET
    webhook_timeout_s: float = 5.0
    # None: payments stay pending until settled; "succeeded"/"failed": settled by themselves
    # auto_settle_delay_s after they are created.
    auto_settle: str | None = None
    auto_settle_delay_s: float = 0.0
    duplicate_webhooks: bool = False  # each webhook twice, signed afresh (another t)
    reorder_webhooks: bool = False  # after payment.succeeded, a stale payment.failed event
    drop_webhooks: bool = False  # the status changes, no webhook is sent: only GET tells
    create_then_fail_next: int = 0  # the next N creates create, then answer 500
    creates: int = 0  # every POST /v1/payments attempt, whatever it was answered
    payments: dict[str, Payment] = field(default_factory=dict)  # by payment id
    # One entry per delivery attempt: (HTTP status, or the exception's name, event).
    webhooks_sent: list[tuple[int | str, dict[str, Any]]] = field(default_factory=list)
    webhooks_dropped: list[dict[str, Any]] = field(default_factory=list)  # drop_webhooks
    _by_key: dict[str, str] = field(default_factory=dict, repr=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    DOWN: ClassVar[str] = "the payment provider is down"
    HELP: ClassVar[str] = "Serve a fake payment provider for development and tests."
    PORT: ClassVar[int] = DEV_PORT
    WHAT: ClassVar[str] = "payment provider"
    # The switches ``POST /_control`` may set, each with its check.
    SWITCHES: ClassVar[Switches] = {
        "token": text,
        "webhook_url": _url,
        "webhook_secret": text,
        "webhook_timeout_s": seconds,
        "auto_settle": _outcome,
        "auto_settle_delay_s": seconds,
        "duplicate_webhooks": flag,
        "reorder_webhooks": flag,
        "drop_webhooks": flag,
        **FAULTS,
        "create_then_fail_next": count,
    }

    def payments_on(self, day: date) -> list[dict[str, Any]]:
        """The payments created on a day (UTC), as ``GET /v1/payments`` lists them."""
        return [
            payment.as_json()
            for payment in self.payments.values()
            if payment.created_at.date() == day
        ]

    async def settle(
        self, payment_id: str, status: str = "succeeded"
    ) -> list[tuple[int | str, dict[str, Any]]]:
        """Complete a payment and deliver its webhook(s); return the deliveries made.

        ``KeyError`` for an unknown payment, ``ValueError`` for a status other than
        "succeeded" or "failed".
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        payment = self.payments[payment_id]
        payment.status = status
        payment.updated_at = datetime.now(UTC)
        log.info("payment %s %s", payment_id, status)
        events = [_event(payment, status)]
        if self.reorder_webhooks and status == "succeeded":
            # An earlier attempt's failure, delivered late: contradicts the event before it.
            events.append(_event(payment, "failed"))
        if self.drop_webhooks:
            self.webhooks_dropped.extend(events)
            return []
        deliveries = []
        for event in events:
            timestamp = int(time.time())
            deliveries.append(await self._deliver(event, timestamp))
            if self.duplicate_webhooks:
                # Another t, so another signature: the receiver cannot take it for a replay
                # and has to deduplicate by event id.
                deliveries.append(await self._deliver(event, timestamp - 1))
        return deliveries

    async def _deliver(
        self, event: dict[str, Any], timestamp: int
    ) -> tuple[int | str, dict[str, Any]]:
        result: int | str
        if self.webhook_url is None:
            result = NO_WEBHOOK_URL
        else:
            body = json.dumps(event).encode()  # signed as sent, byte for byte
            signature = f"t={timestamp},v1={sign(self.webhook_secret, timestamp, body)}"
            try:
                async with httpx.AsyncClient(timeout=self.webhook_timeout_s) as http:
                    response = await http.post(
                        self.webhook_url,
                        content=body,
                        headers={"Content-Type": "application/json", "X-Signature": signature},
                    )
                result = response.status_code
            except httpx.HTTPError as exc:
                result = type(exc).__name__
        log.info("webhook %s %s -> %s", event["type"], event["id"], result)
        delivery = (result, event)
        self.webhooks_sent.append(delivery)
        return delivery

    async def drain(self) -> None:
        """Wait until every scheduled automatic settlement has run."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _cancel_tasks(self) -> None:
        # At shutdown: settlements still waiting would outlive the server and its loop.
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    def _settle_later(self, payment_id: str, status: str) -> None:
        async def settle_later() -> None:
            await asyncio.sleep(self.auto_settle_delay_s)
            try:
                await self.settle(payment_id, status)
            except Exception:
                log.exception("automatic settlement of %s failed", payment_id)

        task = asyncio.create_task(settle_later())
        self._tasks.add(task)  # a reference, or the loop may drop the task half-way
        task.add_done_callback(self._tasks.discard)

    @classmethod
    def own_options(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--webhook-url", default=None, help="where to POST payment events")
        parser.add_argument("--webhook-secret", default=DEV_WEBHOOK_SECRET)
        parser.add_argument("--auto-settle", choices=STATUSES, default=None)
        parser.add_argument("--auto-settle-delay-s", type=float, default=2.0)

    def started_note(self) -> str:
        return f", webhooks to {self.webhook_url or 'nowhere'}"

    def state(self) -> dict[str, Any]:
        return {
            "creates": self.creates,
            "payments": [payment.as_json() for payment in self.payments.values()],
            "webhooks_sent": [
                {"result": result, "event": event} for result, event in self.webhooks_sent
            ],
            "webhooks_dropped": self.webhooks_dropped,
            "switches": self.switches(),
        }

    def app(self) -> Litestar:
        @post("/v1/payments")
        async def create(request: Request[Any, Any, Any]) -> Response[Any]:
            self.creates += 1
            # Read before any hold: waiting for the client to leave consumes the request.
            raw = await request.body()
            if isinstance(key := await self.write_key(request), Response):
                return key
            body = json_object(raw)
            problem = _invalid_payment(body)
            if body is None or problem:
                return error(400, problem or "the body must be a JSON object")
            existing = self._by_key.get(key)
            if existing is None:
                now = datetime.now(UTC)
                payment = Payment(
                    payment_id=f"pay_{secrets.token_hex(12)}",
                    idempotency_key=key,
                    request=body,
                    amount=body["amount"],
                    currency=body["currency"],
                    reference=body["reference"],
                    description=body.get("description", ""),
                    status="pending",
                    created_at=now,
                    updated_at=now,
                )
                self.payments[payment.payment_id] = payment
                self._by_key[key] = payment.payment_id
                status = 201
                log.info("payment %s for %s created", payment.payment_id, payment.reference)
                if self.auto_settle in STATUSES:
                    self._settle_later(payment.payment_id, self.auto_settle)
            else:
                payment = self.payments[existing]
                if payment.request != body:
                    return error(409, "idempotency key reused with another payment")
                status = 200
            if self.create_then_fail_next > 0:
                self.create_then_fail_next -= 1
                return error(500, "internal error")  # created all the same
            return Response(payment.as_json(), status_code=status)

        @get("/v1/payments/{payment_id:str}")
        async def fetch(request: Request[Any, Any, Any]) -> Response[Any]:
            payment_id = request.path_params["payment_id"]
            if (refusal := await self.refused(request)) is not None:
                return refusal
            payment = self.payments.get(payment_id)
            if payment is None:
                return error(404, f"no payment {payment_id}")
            return Response(payment.as_json(), status_code=200)

        @get("/v1/payments")
        async def created_on(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self.listed_by_day(request, "date", "payments", self.payments_on)

        @post("/_settle", status_code=200)
        async def settle(request: Request[Any, Any, Any]) -> Response[Any]:
            values = json_object(await request.body()) or {}
            payment_id = str(values.get("payment_id"))
            if payment_id not in self.payments:
                return error(404, f"no payment {payment_id}")
            try:
                deliveries = await self.settle(payment_id, values.get("status", "succeeded"))
            except ValueError as exc:
                return error(400, str(exc))
            return Response(
                {
                    "payment": self.payments[payment_id].as_json(),
                    "deliveries": [{"result": r, "event": e} for r, e in deliveries],
                },
                status_code=200,
            )

        return Litestar(
            [create, fetch, created_on, settle, *self.control_handlers()],
            on_shutdown=[self._cancel_tasks],
            logging_config=None,
        )


def _event(payment: Payment, status: str) -> dict[str, Any]:
    return {
        "id": f"evt_{secrets.token_hex(12)}",
        "type": f"payment.{status}",
        "data": {
            "payment_id": payment.payment_id,
            "reference": payment.reference,
            "amount": payment.amount,
            "currency": payment.currency,
            "status": status,
        },
    }


def _invalid_payment(body: dict[str, Any] | None) -> str | None:
    """What is wrong with a create body, or None."""
    if body is None:
        return None  # reported as not a JSON object
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return "amount must be a positive integer (minor units)"
    for name in ("currency", "reference"):
        if not isinstance(body.get(name), str) or not body[name]:
            return f"{name} must be a non-empty string"
    if not isinstance(body.get("description", ""), str):
        return "description must be a string"
    return None


def main(argv: list[str] | None = None) -> None:
    PaymentProvider.command_line(argv)


if __name__ == "__main__":
    main()
