"""The push feed reads the member streams past a position per member, from the worker's own
loop: a sale reaches the provider without the scheduler, an event whose transaction commits
after a later one was read is still pushed, and feeds running at once queue nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx

from backend.push.queue import PushPolicy, deliver_push_due, feed_push, feed_push_caught_up
from backend.push.worker import push_until
from backend.streams.member import MEMBERS
from db import sql
from db.pool import engine
from tests.backend.push.test_sale_push import (
    FCM_TOKEN,
    deliveries,
    push_services,
    register_devices,
)
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, buy, log_in, purchase_body

NEVER_QUIET = {"quiet_hours": {"start": "00:00", "end": "00:00"}}


async def phone(client: httpx.AsyncClient, member: LoggedInMember, token: str) -> None:
    """The member's Android phone (FCM), and no quiet hours."""
    added = await client.post(
        "/v1/me/devices", headers=member.headers, json={"provider": "fcm", "token": token}
    )
    assert added.status_code == 201, added.text
    chosen = await client.put("/v1/me/notifications", headers=member.headers, json=NEVER_QUIET)
    assert chosen.status_code == 200, chosen.text


@contextlib.asynccontextmanager
async def a_sale_left_open(member: LoggedInMember) -> AsyncIterator[tuple[str, int]]:
    """A sale's points written (their created_at taken) in a transaction that stays open
    while the body runs and commits when it ends: its events commit after later ones were
    read by the feed. Yields the sale's purchase id and its server process's pid."""
    late_purchase = str(uuid.uuid4())
    written, release = asyncio.Event(), asyncio.Event()
    pids: list[int] = []

    async def slow_sale() -> None:
        async with engine().transaction():
            await MEMBERS.append(
                uuid.UUID(member.member_id),
                [
                    (
                        "transaction.created",
                        {"kind": "earn", "points": 7, "purchase_id": late_purchase},
                    )
                ],
            )
            (row,) = await sql.fetch("SELECT pg_backend_pid() AS pid")
            pids.append(row["pid"])
            written.set()
            await release.wait()

    slow = asyncio.create_task(slow_sale())
    try:
        await asyncio.wait_for(asyncio.shield(written.wait()), 10)
        yield late_purchase, pids[0]
    finally:
        release.set()
        await asyncio.wait_for(slow, 10)


async def collapse_keys() -> list[str]:
    rows = await sql.fetch("SELECT collapse_key FROM push_delivery ORDER BY collapse_key")
    return [row["collapse_key"] for row in rows]


async def test_an_event_committed_after_a_later_one_was_read_is_still_pushed(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till, live_server: LiveServer
) -> None:
    other = await log_in(client, live_server.sms)
    await phone(client, member, FCM_TOKEN + "-late")
    await phone(client, other, FCM_TOKEN + "-early")
    assert await feed_push() == 0  # the feed has run before: its mark is now
    async with a_sale_left_open(member) as (late_purchase, _):
        sale = await buy(client, till, purchase_body(other.card_number))
        assert sale.status_code == 201, sale.text
        # The feed runs long after (ten minutes on its clock): the open transaction holds
        # the mark back, so the slow sale's older created_at stays in the next run's window.
        later = datetime.now(UTC) + timedelta(minutes=10)
        assert await feed_push(now=later) == 1
        assert await collapse_keys() == [f"points_earned:{sale.json()['purchase_id']}"]
    assert await feed_push(now=later + timedelta(seconds=1)) == 1
    assert await feed_push(now=later + timedelta(seconds=2)) == 0
    assert sorted(await collapse_keys()) == sorted(
        [f"points_earned:{sale.json()['purchase_id']}", f"points_earned:{late_purchase}"]
    )


async def test_feeds_running_at_once_queue_each_sale_once(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till
) -> None:
    async with push_services() as push:
        await register_devices(client, member, push.subscription)
        sale = await buy(client, till, purchase_body(member.card_number))
        assert sale.status_code == 201, sale.text
        queued = await asyncio.gather(*(feed_push() for _ in range(4)))
        assert sorted(queued) == [0, 0, 0, 3]  # one per device, by whichever ran first
        assert await feed_push() == 0
        assert len(await deliveries()) == 3
        assert await deliver_push_due(push.providers, PushPolicy()) == 3
    assert [len(push.web_push.received), len(push.fcm.received), len(push.apns.received)] == [
        1,
        1,
        1,
    ]


async def test_the_worker_feeds_itself_and_the_sale_reaches_the_phone_within_seconds(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till
) -> None:
    async with push_services() as push:
        await register_devices(client, member, push.subscription)
        stopping = asyncio.Event()
        worker = asyncio.create_task(
            push_until(stopping, push.providers, PushPolicy(), idle_s=0.05)
        )
        sale = await buy(client, till, purchase_body(member.card_number))
        assert sale.status_code == 201, sale.text
        for _ in range(200):  # no feed_push here, no scheduler: the worker's own rounds
            if len(push.fcm.received) == 1 and all(
                status == "delivered" for _, status in await deliveries()
            ):
                break
            await asyncio.sleep(0.05)
        stopping.set()
        await worker

    assert [len(push.web_push.received), len(push.fcm.received), len(push.apns.received)] == [
        1,
        1,
        1,
    ]
    assert push.fcm.received[0]["android"]["collapse_key"].endswith(sale.json()["purchase_id"])


# A role that may read and write the tables but not see other roles' transactions in
# pg_stat_activity (no pg_read_all_stats), as an application role often is.
READER = "astrocoffee_feed_test_reader"
_READER_ROLE = f"""
DO $$ BEGIN
    CREATE ROLE {READER} NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$
"""


async def test_a_writer_whose_start_the_feed_cannot_see_holds_the_mark(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till, live_server: LiveServer
) -> None:
    """The slow sale's session is the tests' superuser's, the feed's role is not allowed to
    see its xact_start: the feed must not move its mark past it."""
    other = await log_in(client, live_server.sms)
    await phone(client, member, FCM_TOKEN + "-late")
    await phone(client, other, FCM_TOKEN + "-early")
    await sql.fetch(_READER_ROLE)
    await sql.fetch(f"GRANT USAGE ON SCHEMA public TO {READER}")
    await sql.fetch(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {READER}")
    await sql.fetch(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {READER}")

    async def feed_as_reader(now: datetime) -> int:
        async with engine().transaction():
            await sql.fetch(f"SET LOCAL ROLE {READER}")
            return await feed_push(now=now)

    assert await feed_as_reader(datetime.now(UTC)) == 0  # the mark is made: now
    async with a_sale_left_open(member) as (late_purchase, slow_pid):
        sale = await buy(client, till, purchase_body(other.card_number))
        assert sale.status_code == 201, sale.text
        # The slow sale is a writer the superuser sees (the live server's own background
        # work may be writing at the same moment, so the sale is found by its process).
        (seen,) = await sql.fetch(
            "SELECT backend_xid IS NOT NULL AS writing FROM pg_stat_activity WHERE pid = {pid}",
            pid=slow_pid,
        )
        assert seen["writing"]
        later = datetime.now(UTC) + timedelta(minutes=10)
        assert await feed_as_reader(later) == 1
        assert await collapse_keys() == [f"points_earned:{sale.json()['purchase_id']}"]
    assert await feed_as_reader(later + timedelta(seconds=1)) == 1
    assert sorted(await collapse_keys()) == sorted(
        [f"points_earned:{sale.json()['purchase_id']}", f"points_earned:{late_purchase}"]
    )


async def test_the_rounds_feed_goes_on_until_it_has_caught_up(
    client: httpx.AsyncClient, live_server: LiveServer, till: Till
) -> None:
    """The scheduler's round, 30 s apart, finds more events than one run takes: it runs
    again until a run stops short of its limit, instead of leaving the rest to a window that
    only grows (issue #24)."""
    members = [await log_in(client, live_server.sms) for _ in range(3)]
    for number, member in enumerate(members):
        await phone(client, member, f"{FCM_TOKEN}-{number}")
        assert (await buy(client, till, purchase_body(member.card_number))).status_code == 201
    # Each sale's events (two entries and the balance) make more than a run of 2 takes.
    assert await feed_push_caught_up(limit=2) == 3
    assert await feed_push() == 0
    assert len(await collapse_keys()) == 3


async def positions() -> dict[str, int]:
    rows = await sql.fetch("SELECT member::text AS member, seq FROM push_feed_position")
    return {row["member"]: row["seq"] for row in rows}


async def test_the_feed_reads_and_moves_only_members_with_a_device(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till, live_server: LiveServer
) -> None:
    """A member without a device costs the feed no row read out and no position (issue
    #24); once they add one, their sales from then on are pushed, not what they bought
    while they had none, however recently; a second device, or the app registering its
    token again, loses nothing the feed had not read yet."""
    assert await feed_push() == 0  # the mark is made: now
    without = await log_in(client, live_server.sms)
    await phone(client, member, FCM_TOKEN + "-has")
    for buyer in (member, without):
        assert (await buy(client, till, purchase_body(buyer.card_number))).status_code == 201
    assert await feed_push() == 1
    assert set(await positions()) == {member.member_id}
    old = await buy(client, till, purchase_body(without.card_number))
    assert old.status_code == 201, old.text
    await phone(client, without, FCM_TOKEN + "-added")
    new = await buy(client, till, purchase_body(without.card_number))
    assert new.status_code == 201, new.text
    # Before the feed read the new sale: the token again, and a second device.
    await phone(client, without, FCM_TOKEN + "-added")
    await phone(client, without, FCM_TOKEN + "-second")
    assert await feed_push() == 2  # the new sale, to each of the two devices
    keys = await collapse_keys()
    assert f"points_earned:{old.json()['purchase_id']}" not in keys
    assert f"points_earned:{new.json()['purchase_id']}" in keys
