"""A store's figures count its own business days: its local calendar in its zone, from the
hour its day starts; the clock is set by the tests, never the machine's.

Vladivostok is UTC+10 and Kaliningrad UTC+2 (neither changes its clocks), so at 14:30 UTC
it is already tomorrow 00:30 in one and still 16:30 today in the other.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from db.tables import StoreDay, StoreEvent
from tests.clock import at, utc
from tests.conftest import LiveServer
from tests.factories import Till, figures_folded, hire, log_in, open_till, sold

VLADIVOSTOK = "Asia/Vladivostok"
KALININGRAD = "Europe/Kaliningrad"


async def _days(till: Till) -> dict[str, tuple[int, int]]:
    """The store's day rows: day -> (sales, sales_amount)."""
    rows = await StoreDay.select(StoreDay.day, StoreDay.sales, StoreDay.sales_amount).where(
        StoreDay.store == till.store_id
    )
    return {row["day"].isoformat(): (row["sales"], row["sales_amount"]) for row in rows}


async def _sell(client: httpx.AsyncClient, till: Till, card: str, amount: int) -> dict[str, Any]:
    receipt = await sold(client, till, card, amount)
    await figures_folded()  # at the sale's own moment: its day is still today
    return receipt


async def _stats(
    client: httpx.AsyncClient, till: Till, *, date: str | None = None
) -> dict[str, Any]:
    manager = await hire(client, "manager", [till.store_id])  # signed in at the clock's time
    params = {"date": date} if date else {}
    answer = await client.get(
        f"/v1/admin/stores/{till.store_id}/stats", params=params, headers=manager.headers
    )
    assert answer.status_code == 200, answer.text
    figures: dict[str, Any] = answer.json()
    return figures


async def test_a_sale_at_2359_and_one_at_0001_local_land_on_two_days(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till(time_zone=VLADIVOSTOK)
    member = await log_in(client, live_server.sms)
    with at(utc(2027, 3, 15, 13, 59)):  # 23:59 on the 15th in Vladivostok
        await _sell(client, till, member.card_number, 10000)
        before = await _stats(client, till)
    with at(utc(2027, 3, 15, 14, 1)):  # 00:01 on the 16th there; still the 15th in UTC
        await _sell(client, till, member.card_number, 20000)
        after = await _stats(client, till)
        yesterday = await _stats(client, till, date="2027-03-15")
    assert await _days(till) == {"2027-03-15": (1, 10000), "2027-03-16": (1, 20000)}
    assert (before["day"], before["time_zone"], before["sales"]) == ("2027-03-15", VLADIVOSTOK, 1)
    assert (after["day"], after["sales"], after["sales_amount"]) == ("2027-03-16", 1, 20000)
    assert (yesterday["day"], yesterday["sales_amount"]) == ("2027-03-15", 10000)
    # UTC midnight is the middle of the store's morning: "today" stays the 16th across it.
    with at(utc(2027, 3, 15, 23, 59)):
        assert (await _stats(client, till))["day"] == "2027-03-16"
    with at(utc(2027, 3, 16, 0, 1)):
        late = await _stats(client, till)
    assert (late["day"], late["sales"]) == ("2027-03-16", 1)


async def test_a_store_open_past_midnight_counts_the_small_hours_on_the_day_before(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till(time_zone=KALININGRAD, day_starts_at=4)
    member = await log_in(client, live_server.sms)
    with at(utc(2027, 3, 16, 0, 0)):  # 02:00 on the 16th in Kaliningrad: still the 15th's night
        await _sell(client, till, member.card_number, 10000)
        night = await _stats(client, till)
    with at(utc(2027, 3, 16, 2, 30)):  # 04:30 there: the 16th has begun
        await _sell(client, till, member.card_number, 20000)
        morning = await _stats(client, till)
    assert await _days(till) == {"2027-03-15": (1, 10000), "2027-03-16": (1, 20000)}
    assert (night["day"], night["sales"]) == ("2027-03-15", 1)
    assert (morning["day"], morning["sales"]) == ("2027-03-16", 1)


async def test_two_stores_at_the_same_instant_count_on_their_own_dates(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    east = await open_till(time_zone=VLADIVOSTOK)
    west = await open_till(time_zone=KALININGRAD)
    member = await log_in(client, live_server.sms)
    with at(utc(2027, 3, 15, 14, 30)):  # 00:30 on the 16th in the east, 16:30 on the 15th west
        await _sell(client, east, member.card_number, 10000)
        await _sell(client, west, member.card_number, 20000)
        east_today, west_today = await _stats(client, east), await _stats(client, west)
    assert await _days(east) == {"2027-03-16": (1, 10000)}
    assert await _days(west) == {"2027-03-15": (1, 20000)}
    assert (east_today["day"], east_today["time_zone"]) == ("2027-03-16", VLADIVOSTOK)
    assert (west_today["day"], west_today["time_zone"]) == ("2027-03-15", KALININGRAD)


async def test_new_members_are_those_who_joined_on_the_store_s_day(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till(time_zone=VLADIVOSTOK)
    with at(utc(2027, 3, 15, 13, 30)):  # joins at 23:30 on the 15th, Vladivostok time
        late = await log_in(client, live_server.sms)
    with at(utc(2027, 3, 15, 14, 30)):  # the same UTC date, but the 16th there
        early = await log_in(client, live_server.sms)
        await _sell(client, till, late.card_number, 10000)
        await _sell(client, till, early.card_number, 10000)
        figures = await _stats(client, till)
    assert (figures["active_members"], figures["new_members"]) == (2, 1)


async def test_a_refund_moves_the_figures_of_the_day_its_sale_was_made(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till(time_zone=VLADIVOSTOK)
    member = await log_in(client, live_server.sms)
    with at(utc(2027, 3, 15, 13, 30)):  # 23:30 on the 15th
        sale = await _sell(client, till, member.card_number, 10000)
    with at(utc(2027, 3, 15, 14, 30)):  # 00:30 on the 16th, the same UTC date
        await _sell(client, till, member.card_number, 30000)
        refund = await client.post(
            f"/v1/purchases/{sale['purchase_id']}/refunds",
            json={"amount": 4000, "reason": "cold"},
            headers={**till.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert refund.status_code == 201, refund.text
        yesterday = await _stats(client, till, date="2027-03-15")
        today = await _stats(client, till)
    assert (yesterday["refunded_amount"], yesterday["points_reversed"]) == (4000, 2)
    assert (today["sales"], today["refunded_amount"], today["points_reversed"]) == (1, 0, 0)
    # stats.updated speaks of today only: yesterday's refund sends none, today's sale one,
    # with the day in the store's zone.
    events = (
        await StoreEvent.select(StoreEvent.type, StoreEvent.data)
        .where(StoreEvent.store == till.store_id)
        .order_by(StoreEvent.seq)
        .output(load_json=True)
    )
    updates = [e["data"] for e in events if e["type"] == "stats.updated"]
    assert [(u["day"], u["time_zone"], u["sales"]) for u in updates] == [
        ("2027-03-15", VLADIVOSTOK, 1),
        ("2027-03-16", VLADIVOSTOK, 1),
    ]


async def test_a_day_that_is_not_a_date_is_refused(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till(time_zone=VLADIVOSTOK)
    manager = await hire(client, "manager", [till.store_id])
    answer = await client.get(
        f"/v1/admin/stores/{till.store_id}/stats",
        params={"date": "16.03.2027"},
        headers=manager.headers,
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "date" in answer.text


async def test_a_day_starting_in_an_hour_dst_skips_or_repeats_begins_and_ends_as_people_expect(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    # Berlin: on 28 March 2027 clocks jump from 02:00 to 03:00 (01:00 UTC); on 31 October
    # they go back from 03:00 to 02:00 (01:00 UTC). The store's day starts at 02:00.
    till = await open_till(time_zone="Europe/Berlin", day_starts_at=2)
    with at(utc(2027, 3, 28, 0, 59)):  # 01:59 CET: still the 27th's night
        before = await log_in(client, live_server.sms)
        await _sell(client, till, before.card_number, 10000)
    with at(utc(2027, 3, 28, 1, 1)):  # 03:01 CEST: 02:00 never came; the 28th began at the jump
        after = await log_in(client, live_server.sms)
        await _sell(client, till, before.card_number, 20000)
        await _sell(client, till, after.card_number, 30000)
        spring = await _stats(client, till)
    assert (spring["day"], spring["sales"], spring["active_members"]) == ("2027-03-28", 2, 2)
    assert spring["new_members"] == 1  # the one who joined after the jump
    with at(utc(2027, 10, 30, 23, 59)):  # 01:59 CEST on the 31st: the 30th's night
        await _sell(client, till, before.card_number, 1000)
    with at(utc(2027, 10, 31, 0, 30)):  # 02:30 CEST: the 31st has begun
        await _sell(client, till, before.card_number, 2000)
    with at(utc(2027, 10, 31, 1, 30)):  # 02:30 CET, the hour again: still the 31st, not the 30th
        await _sell(client, till, before.card_number, 4000)
        autumn = await _stats(client, till)
    assert (autumn["day"], autumn["sales"], autumn["sales_amount"]) == ("2027-10-31", 2, 6000)
    days = await _days(till)
    assert days["2027-03-27"] == (1, 10000) and days["2027-10-30"] == (1, 1000)
