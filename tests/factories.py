"""Small helpers that put realistic data in place through the real services and API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from backend.auth.terminals import create_terminal
from db.tables import Member, Store


@dataclass
class Till:
    store_id: uuid.UUID
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.key}


@dataclass
class LoggedInMember:
    member_id: str
    phone: str
    card_number: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


_counter = 0


def unique_phone() -> str:
    global _counter
    _counter += 1
    return f"+7999{uuid.uuid4().int % 10**5:05d}{_counter % 100:02d}"


async def open_till(*, currency: str = "RUB", code: str | None = None) -> Till:
    store = Store(code=code or f"S-{uuid.uuid4().hex[:8]}", name="Test store", currency=currency)
    await store.save()
    _, key = await create_terminal(store=store, name="till 1")
    return Till(store_id=store.id, key=key)


async def log_in(client: httpx.AsyncClient, sms: Any, phone: str | None = None) -> LoggedInMember:
    phone = phone or unique_phone()
    response = await client.post("/v1/auth/otp", json={"phone": phone})
    assert response.status_code == 202, response.text
    response = await client.post("/v1/auth/token", json={"phone": phone, "code": sms.codes[phone]})
    assert response.status_code == 200, response.text
    tokens = response.json()
    row = await Member.select(Member.card_number).where(Member.phone == phone).first()
    assert row is not None
    return LoggedInMember(
        member_id=tokens["member_id"],
        phone=phone,
        card_number=row["card_number"],
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


def purchase_body(
    card_number: str, *, external_id: str | None = None, amount: int = 35000, **extra: Any
) -> dict[str, Any]:
    return {
        "customer": {"card_number": card_number},
        "external_id": external_id or f"receipt-{uuid.uuid4().hex[:12]}",
        "amount": amount,
        "currency": "RUB",
        **extra,
    }


async def buy(
    client: httpx.AsyncClient, till: Till, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    return await client.post(
        "/v1/purchases",
        json=body,
        headers={**till.headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )
