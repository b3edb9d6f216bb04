"""Small helpers that put realistic data in place through the real services and API."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from backend.auth.terminals import create_terminal
from db import sql
from db.tables import Member, Store

if TYPE_CHECKING:
    from backend.auth.callers import StaffCaller


@dataclass
class Till:
    store_id: uuid.UUID
    key: str
    terminal_id: uuid.UUID | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.key}


@dataclass(kw_only=True)
class SignedIn:
    """A caller's pair of tokens; ``headers`` carry the access token."""

    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass(kw_only=True)
class LoggedInMember(SignedIn):
    member_id: str
    phone: str
    card_number: str


_counter = 0


def unique_phone() -> str:
    global _counter
    _counter += 1
    return f"+7999{uuid.uuid4().int % 10**5:05d}{_counter % 100:02d}"


async def open_till(
    *,
    currency: str = "RUB",
    code: str | None = None,
    time_zone: str = "Europe/Moscow",
    day_starts_at: int = 0,
) -> Till:
    store = Store(
        code=code or f"S-{uuid.uuid4().hex[:8]}",
        name="Test store",
        currency=currency,
        time_zone=time_zone,
        day_starts_at=day_starts_at,
    )
    await store.save()
    terminal, key = await create_terminal(store=store, name="till 1")
    return Till(store_id=store.id, key=key, terminal_id=terminal.id)


async def another_till(store_id: uuid.UUID) -> Till:
    store = await Store.objects().where(Store.id == store_id).first()
    assert store is not None
    terminal, key = await create_terminal(store=store, name="another till")
    return Till(store_id=store_id, key=key, terminal_id=terminal.id)


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


async def sell(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, amount: int = 35000, **extra: Any
) -> httpx.Response:
    """A purchase of ``amount`` by ``member`` at ``till`` (``extra``: more of its body)."""
    return await buy(client, till, purchase_body(member.card_number, amount=amount, **extra))


async def sold(
    client: httpx.AsyncClient, till: Till, card_number: str, amount: int = 35000, **extra: Any
) -> dict[str, Any]:
    """A purchase of ``amount`` on the card at ``till`` that must be accepted (201): its
    receipt."""
    response = await buy(client, till, purchase_body(card_number, amount=amount, **extra))
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    """``response`` is a problem+json answer of ``status`` with the problem ``code``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


STAFF_PASSWORD = "correct horse battery staple"


@dataclass(kw_only=True)
class SignedInStaff(SignedIn):
    staff_id: str
    email: str


async def hire(
    client: httpx.AsyncClient, role: str, store_ids: list[uuid.UUID] | None = None
) -> SignedInStaff:
    """Create a staff user through the service and sign them in through the API."""
    from backend.staff.schemas import StaffCreate
    from backend.staff.service import create_staff

    email = f"{role}-{uuid.uuid4().hex[:8]}@astrocoffee.test"
    created = await create_staff(
        StaffCreate(
            email=email,
            name=f"Test {role}",
            password=STAFF_PASSWORD,
            role=role,  # type: ignore[arg-type]
            store_ids=store_ids or [],
        )
    )
    response = await client.post(
        "/v1/staff/token", json={"email": email, "password": STAFF_PASSWORD}
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    return SignedInStaff(
        staff_id=str(created.id),
        email=email,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


async def add_staff(
    client: httpx.AsyncClient,
    admin: SignedInStaff,
    role: str,
    store_ids: list[uuid.UUID],
    *,
    email: str,
    name: str,
) -> httpx.Response:
    """An admin adds a staff member through the API (``POST /v1/admin/staff``), with a password
    long enough (``hire`` does it through the service): the answer, unchecked, for the test
    to judge."""
    return await client.post(
        "/v1/admin/staff",
        headers=admin.headers,
        json={
            "email": email,
            "name": name,
            "password": "a long enough password",
            "role": role,
            "store_ids": [str(store_id) for store_id in store_ids],
        },
    )


async def open_store(
    client: httpx.AsyncClient, admin: SignedInStaff, **fields: Any
) -> httpx.Response:
    """An admin opens a store through the API (``POST /v1/admin/stores``) with ``fields`` as
    its body: the answer, unchecked (some tests want it refused)."""
    return await client.post("/v1/admin/stores", headers=admin.headers, json=fields)


async def add_terminal(
    client: httpx.AsyncClient, staff: SignedInStaff, store_id: uuid.UUID | str, name: str
) -> httpx.Response:
    """A store's manager or an admin adds a terminal to the store through the API (``POST
    /v1/admin/stores/{store_id}/terminals``): the answer, unchecked, with the key shown once."""
    return await client.post(
        f"/v1/admin/stores/{store_id}/terminals", headers=staff.headers, json={"name": name}
    )


async def hired_caller(
    client: httpx.AsyncClient, role: str, store_ids: list[uuid.UUID]
) -> StaffCaller:
    """A staff member hired as ``hire`` does, as the services see them signed in: for
    calling a service directly."""
    from backend.auth.callers import Role, StaffCaller

    staff = await hire(client, role, store_ids)
    return StaffCaller(
        staff_id=uuid.UUID(staff.staff_id),
        role=Role(role),
        store_ids=frozenset(store_ids),
        session_id="t",
    )


async def post_as(
    client: httpx.AsyncClient,
    till: Till,
    path: str,
    body: dict[str, Any] | None = None,
    key: str | None = None,
) -> httpx.Response:
    """A POS call with a fresh (or given) Idempotency-Key."""
    return await client.post(
        path, json=body, headers={**till.headers, "Idempotency-Key": key or uuid.uuid4().hex}
    )


async def open_checkout(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, amount: int = 40000
) -> dict[str, Any]:
    """A checkout of ``amount`` for ``member`` opened at ``till``: its quote."""
    body = purchase_body(member.card_number, amount=amount)
    response = await post_as(client, till, "/v1/checkouts", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def on_checkout(
    client: httpx.AsyncClient,
    till: Till,
    checkout: dict[str, Any],
    action: str,
    body: dict[str, Any] | None = None,
    key: str | None = None,
) -> httpx.Response:
    """POST /v1/checkouts/{id}/{action}: hold, complete or cancel ``checkout`` at ``till``."""
    path = f"/v1/checkouts/{checkout['checkout_id']}/{action}"
    return await post_as(client, till, path, body, key)


async def grant(member_id: str, points: int) -> None:
    """Points credited by a staff adjustment, as an admin would (through the service)."""
    import os

    from redis.asyncio import Redis

    from backend.auth.callers import Role, StaffCaller
    from backend.loyalty.adjustments import AdjustmentRequest, adjust_points
    from realtime.publisher import EventPublisher

    staff = StaffCaller(
        staff_id=uuid.uuid4(), role=Role.ADMIN, store_ids=frozenset(), session_id="t"
    )
    redis = Redis.from_url(os.environ["REDIS_URL"])
    try:
        await adjust_points(
            staff=staff,
            member_id=uuid.UUID(member_id),
            request=AdjustmentRequest(points=points, reason="test grant"),
            key=uuid.uuid4().hex,
            publisher=EventPublisher(redis=redis, prefix=os.environ["ASTROCOFFEE_REDIS_PREFIX"]),
        )
    finally:
        await redis.aclose()


_UNFOLDED = """
SELECT EXISTS (SELECT 1 FROM purchase p LEFT JOIN store_figures_mark m ON m.id = 1
               WHERE (m.id IS NULL AND p.feed_xid > 0) OR p.feed_xid >= m.folded_below
                  OR p.feed_xid = ANY(m.waiting)) AS waiting
"""


async def figures_folded(timeout_s: float = 5.0) -> None:
    """Wait until every committed sale is in its store's figures and stream: they are folded
    after commit (``backend.stores.folding``, run beside the tests' server every few ms)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (await sql.fetch(_UNFOLDED))[0]["waiting"]:
        assert loop.time() < deadline, f"sales not folded into store figures in {timeout_s} s"
        await asyncio.sleep(0.01)
