"""The worked example of docs/ledger.md, step by step, so the document stays true: a store in
Vladivostok, each step at the store's local time (the clock is set by the test)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import time_machine

from backend.loyalty.expiry import expire_points
from db.tables import Account, OutboxMessage, PointLot
from realtime.publisher import EventPublisher
from tests.conftest import LiveServer
from tests.factories import (
    buy,
    figures_folded,
    hire,
    log_in,
    open_till,
    post_as,
    purchase_body,
)

VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")  # UTC+10, no DST


@contextmanager
def at_the_store(year: int, month: int, day: int, hour: int, minute: int) -> Iterator[None]:
    """The clock reads this wall-clock time in Vladivostok (and goes on ticking)."""
    local = datetime(year, month, day, hour, minute, tzinfo=VLADIVOSTOK)
    with time_machine.travel(local.astimezone(UTC), tick=True):
        yield


async def test_the_worked_example(client: httpx.AsyncClient, live_server: LiveServer) -> None:
    till = await open_till(time_zone="Asia/Vladivostok")

    async def balance() -> tuple[int, int, int]:
        row = await Account.select(Account.available, Account.pending, Account.held).first()
        assert row is not None
        return row["available"], row["pending"], row["held"]

    # 1. Monday 15 March 2027, 23:50 at the store (13:50 UTC): a purchase of 400.00.
    with at_the_store(2027, 3, 15, 23, 50):
        member = await log_in(client, live_server.sms)
        first = (await buy(client, till, purchase_body(member.card_number, amount=40000))).json()
    assert first["points_earned"] == 20
    assert await balance() == (20, 0, 0)

    # 2. 23:55: a checkout of 300.00 holds all 20 points.
    with at_the_store(2027, 3, 15, 23, 55):
        quote = (
            await post_as(
                client, till, "/v1/checkouts", purchase_body(member.card_number, amount=30000)
            )
        ).json()
        assert quote["max_redeemable_points"] == 20
        await post_as(client, till, f"/v1/checkouts/{quote['checkout_id']}/hold", {"points": 20})
    assert await balance() == (0, 0, 20)

    # 3. Tuesday 16 March, 00:05 (still the 15th in UTC): the checkout completes.
    with at_the_store(2027, 3, 16, 0, 5):
        done = await post_as(
            client,
            till,
            f"/v1/checkouts/{quote['checkout_id']}/complete",
            {"payment_ref": "pay-1", "paid_amount": 28000},
        )
    assert done.json()["purchase"]["points_earned"] == 14
    assert await balance() == (14, 0, 0)

    # 4. 00:10: the first purchase is refunded in full; the member sees the debt.
    with at_the_store(2027, 3, 16, 0, 10):
        await post_as(
            client, till, f"/v1/purchases/{first['purchase_id']}/refunds", {"amount": 40000}
        )
        again = await log_in(client, live_server.sms, phone=member.phone)
        me = (await client.get("/v1/me", headers=again.headers)).json()
    assert (me["balance"]["available"], me["balance"]["pending"]) == (-6, 0)

    # 5. 00:15: a purchase of 200.00 pays the debt first.
    with at_the_store(2027, 3, 16, 0, 15):
        await buy(client, till, purchase_body(member.card_number, amount=20000))
        await figures_folded()
        manager = await hire(client, "manager", [till.store_id])
        days = {
            day: (
                await client.get(
                    f"/v1/admin/stores/{till.store_id}/stats",
                    params={"date": day},
                    headers=manager.headers,
                )
            ).json()
            for day in ("2027-03-15", "2027-03-16")
        }
    assert await balance() == (4, 0, 0)
    assert sorted(r["remaining"] for r in await PointLot.select(PointLot.remaining)) == [0, 0, 4]

    # The store's business days: the refund moved the day of the purchase it refunded.
    def figures(day: str, *names: str) -> tuple[Any, ...]:
        return tuple(days[day][name] for name in names)

    counted = ("sales", "sales_amount", "points_earned", "points_redeemed")
    refunded = ("refunded_amount", "points_reversed")
    assert figures("2027-03-15", *counted, *refunded) == (1, 40000, 20, 0, 40000, 20)
    assert figures("2027-03-16", *counted, *refunded) == (2, 48000, 24, 20, 0, 0)
    assert {d["time_zone"] for d in days.values()} == {"Asia/Vladivostok"}

    # 6. A year later lot C expires, 365 days after it was credited: 00:15 on 15 March 2028
    # in Vladivostok, 17:15 on 14 March in Moscow, the program's zone, which dates it.
    state = live_server.app.state
    publisher = EventPublisher(redis=state.redis, prefix=state.settings.redis_prefix)
    a_year_later = datetime(2028, 3, 15, 0, 16, tzinfo=VLADIVOSTOK).astimezone(UTC)
    assert await expire_points(publisher, now=a_year_later) == 4
    assert await balance() == (0, 0, 0)

    documents = await OutboxMessage.select(
        OutboxMessage.kind, OutboxMessage.business_date
    ).order_by(OutboxMessage.created_at)
    assert [(d["kind"], d["business_date"].isoformat()) for d in documents] == [
        ("sale", "2027-03-15"),
        ("sale", "2027-03-16"),
        ("refund", "2027-03-16"),
        ("sale", "2027-03-16"),
        ("points_expiry", "2028-03-14"),
    ]
