"""The whole erasure under live traffic: a member with sales, a birth date, consents, two
devices (and two more registered for push) and a QR code on screen is erased by an admin while a sale for them is in flight.
Afterwards none of their personal data is anywhere in PostgreSQL (every text, varchar and
jsonb column of every table), in Redis (keys and values) or in the application's logs; the
ledger verifies and the day reconciles with the accounting system."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
import redis.asyncio as aioredis
import time_machine

from backend.accounting.books import ExternalSystems
from backend.accounting.client import AccountingClient
from backend.accounting.reconciliation import reconcile_day
from backend.loyalty.verify import find_mismatches
from backend.members.erasure import MemberErasure
from backend.ops.logging import JsonFormatter
from backend.orders.payment_provider import PaymentProvider
from tests.backend.accounting.delivery import deliver_everything
from tests.backend.push.samples import web_push_subscription
from tests.conftest import Shop
from tests.factories import buy, hire, log_in, open_till, purchase_body
from tests.servers import RunServers

NOON = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)  # noon in Moscow, the stores' zone
BIRTH_DATE = "1987-11-23"
CORRECTED_BIRTH_DATE = "1987-11-13"  # a staff correction, kept sealed on the audit trail


async def _columns_holding(database_url: str, needles: list[str]) -> list[str]:
    """``table.column`` of every text-like column in which a needle occurs."""
    connection = await asyncpg.connect(database_url)
    try:
        columns = await connection.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public'"
            " AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY')"
        )
        assert len(columns) > 40  # every table's, not a few
        found = []
        for column in columns:
            table, name = column["table_name"], column["column_name"]
            for needle in needles:
                hits = await connection.fetchval(
                    f'SELECT count(*) FROM "{table}" WHERE "{name}"::text LIKE $1',
                    f"%{needle}%",
                )
                if hits:
                    found.append(f"{table}.{name} holds {needle!r}")
        return found
    finally:
        await connection.close()


async def _redis_holding(servers: RunServers, needles: list[str]) -> list[str]:
    redis = aioredis.Redis.from_url(servers.redis_url)
    found = []
    try:
        async for raw_key in redis.scan_iter(match=servers.redis_prefix + "*"):
            key = raw_key.decode()
            kind = (await redis.type(raw_key)).decode()
            if kind == "string":
                values = [await redis.get(raw_key)]
            elif kind == "hash":
                values = [*(await redis.hgetall(raw_key)).items()]
            elif kind == "set":
                values = list(await redis.smembers(raw_key))
            elif kind == "zset":
                values = list(await redis.zrange(raw_key, 0, -1))
            elif kind == "list":
                values = list(await redis.lrange(raw_key, 0, -1))
            else:
                values = []
            text = key + repr(values)
            found += [f"{key} holds {needle!r}" for needle in needles if needle in text]
    finally:
        await redis.aclose()
    return found


async def test_an_erasure_under_live_traffic_leaves_no_personal_datum_anywhere(
    shop: Shop, servers: RunServers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = shop.client
    with time_machine.travel(NOON, tick=True):
        till = await open_till()
        member = await log_in(api, shop.sms)
        phone_again = await log_in(api, shop.sms, phone=member.phone)  # a second device
        for amount in (35000, 120000):
            bought = await buy(api, till, purchase_body(member.card_number, amount=amount))
            assert bought.status_code == 201, bought.text
        spent = await buy(api, till, purchase_body(member.card_number, redeem_points=10))
        assert spent.status_code == 201, spent.text
        assert (
            await api.patch("/v1/me", headers=member.headers, json={"birth_date": BIRTH_DATE})
        ).status_code == 200
        consent = await api.put(
            "/v1/me/consents", headers=member.headers, json={"push": True, "sms": True}
        )
        assert consent.status_code == 200, consent.text
        assert (await api.get("/v1/me/qr", headers=phone_again.headers)).status_code == 200
        apns_token = uuid.uuid4().hex * 2
        subscription = web_push_subscription(f"https://push.example/send/{uuid.uuid4().hex}")
        for device_body in (
            {"provider": "apns", "token": apns_token},
            {"provider": "webpush", "subscription": subscription},
        ):
            registered = await api.post("/v1/me/devices", headers=member.headers, json=device_body)
            assert registered.status_code == 201, registered.text
        admin = await hire(api, "admin")
        barista = await hire(api, "barista", [till.store_id])
        looked_up = await api.get(
            "/v1/admin/members", params={"card_number": member.card_number}, headers=barista.headers
        )
        assert looked_up.status_code == 200, looked_up.text
        manager = await hire(api, "manager", [till.store_id])
        corrected = await api.patch(  # on the audit trail, which cannot be erased: sealed
            f"/v1/admin/members/{member.member_id}/birth-date",
            headers=manager.headers,
            json={"birth_date": CORRECTED_BIRTH_DATE},
        )
        assert corrected.status_code == 200, corrected.text
        exported = await api.get(
            f"/v1/admin/members/{member.member_id}/export",
            params={"reason": "written request no. 41"},
            headers=admin.headers,
        )
        assert exported.status_code == 200, exported.text
        assert exported.json()["profile"]["phone"] == member.phone
        needles = [
            member.phone,
            member.phone.removeprefix("+"),
            member.card_number,
            BIRTH_DATE,
            CORRECTED_BIRTH_DATE,
            apns_token,
            subscription["endpoint"],
            subscription["keys"]["p256dh"],
        ]

        # The scans find them while the member exists.
        before = await _columns_holding(servers.database_url, needles)
        assert {"member.phone", "member.card_number", "member_device.token"} <= {
            f.split(" ")[0] for f in before
        }
        assert await _redis_holding(servers, needles) != []  # the per-phone code counter

        # The erasure and a sale for the member, at the same time.
        in_flight, erased = await asyncio.gather(
            buy(api, till, purchase_body(member.card_number, amount=50000)),
            api.post(
                f"/v1/admin/members/{member.member_id}/erasure",
                headers=admin.headers,
                json={"reason": "written request no. 42"},
            ),
        )
        assert erased.status_code == 200, erased.text
        # Before the erasure it was theirs; after it the card is nobody's.
        assert in_flight.status_code in (201, 404), in_flight.text
        service = shop.app.dependencies["member_erasure"].dependency()
        assert isinstance(service, MemberErasure)
        await service.finish_erasures()  # what the periodic job does: nothing, or late points

        for device in (member, phone_again):
            assert (await api.get("/v1/me", headers=device.headers)).status_code == 401
        await deliver_everything(shop)
        accounting = AccountingClient(url=shop.accounting_url, token=shop.accounting.token)
        provider = PaymentProvider(url=shop.provider_url, token=shop.provider.token)
        try:
            report = await reconcile_day(
                NOON.date(), ExternalSystems(accounting=accounting, provider=provider)
            )
        finally:
            await accounting.aclose()
            await provider.aclose()

    assert report.differences == []
    assert report.balanced
    assert await find_mismatches() == []
    balance = await _balance_of(servers.database_url, uuid.UUID(member.member_id))
    assert balance == (0, 0, 0)

    assert await _columns_holding(servers.database_url, needles) == []
    assert await _redis_holding(servers, needles) == []
    # As the application writes them (its formatter); httpx and httpcore here are the
    # tests' own client.
    formatter = JsonFormatter()
    logged = "\n".join(
        formatter.format(r) for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert logged  # the requests above were logged
    assert [needle for needle in needles if needle in logged] == []


async def _balance_of(database_url: str, member_id: uuid.UUID) -> tuple[int, int, int]:
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow(
            "SELECT available, pending, held FROM account WHERE member = $1", member_id
        )
        assert row is not None
        return (row["available"], row["pending"], row["held"])
    finally:
        await connection.close()
