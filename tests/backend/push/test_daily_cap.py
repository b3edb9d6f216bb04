"""The daily cap defers, never drops: a member's notifications over the cap of their local
day wait for the next day's end of quiet hours; a sale update not yet sent is replaced by
the next one, which says their points together, so updates never pile up."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest
import time_machine

from backend.jobs.scheduler import MaintenanceLoop
from backend.push.daily_cap import lock_member_day
from backend.push.queue import PushPolicy, deliver_push_due, feed_push, queue_for_member
from backend.push.scheduled_texts import birthday
from backend.settings import SettingsError, load_settings
from db import sql
from db.pool import engine
from realtime.publisher import EventPublisher
from tests.backend.push.opening import moscow, noon_with_a_browser
from tests.conftest import LiveServer
from tests.factories import buy, purchase_body
from tests.rows import tuples


async def queued() -> list[tuple[Any, ...]]:
    return await tuples("SELECT status, next_attempt_at FROM push_delivery ORDER BY created_at")


async def test_over_the_cap_waits_for_the_next_local_day_and_updates_collapse(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    async with noon_with_a_browser(client, live_server.sms) as (push, till, member):
        await client.put("/v1/me/notifications", headers=member.headers, json={"language": "ru"})
        points = []
        for _ in range(2):  # the cap's two, sent at once
            sale = await buy(client, till, purchase_body(member.card_number, amount=35000))
            points.append(sale.json()["points_earned"])
            assert await feed_push(daily_cap=2) == 1
            assert await deliver_push_due(push.providers, PushPolicy()) == 1
        # The third waits for tomorrow, after the quiet night; a fourth replaces it.
        for amount in (35000, 20000):
            sale = await buy(client, till, purchase_body(member.card_number, amount=amount))
            points.append(sale.json()["points_earned"])
            assert await feed_push(daily_cap=2) == 1
            assert await deliver_push_due(push.providers, PushPolicy()) == 0
        assert await feed_push(daily_cap=2) == 0  # the same sales read again: nothing new

        statuses = await queued()
        assert [status for status, _ in statuses] == [
            "delivered",
            "delivered",
            "replaced",
            "pending",
        ]
        assert statuses[-1][1] == moscow(17, 8)
        with time_machine.travel(moscow(17, 8), tick=True):
            assert await deliver_push_due(push.providers, PushPolicy()) == 1

    told = [received["payload"] for received in push.web_push.received]
    assert [payload["title"] for payload in told[:2]] == [f"+{points[0]} баллов"] * 2
    together = points[2] + points[3]
    assert told[2]["title"] == f"+{together} баллов"
    assert told[2]["body"] == "Начислено за покупки в Astrocoffee"
    assert told[2]["data"]["points"] == str(together)


def test_the_cap_is_a_setting_of_at_least_one() -> None:
    assert load_settings({}).push_daily_cap == 5
    assert load_settings({"ASTROCOFFEE_PUSH_DAILY_CAP": "2"}).push_daily_cap == 2
    with pytest.raises(SettingsError, match="push_daily_cap"):
        load_settings({"ASTROCOFFEE_PUSH_DAILY_CAP": "0"})


async def test_the_schedulers_round_feeds_with_the_cap_its_settings_say(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    state = live_server.app.state
    settings = msgspec.structs.replace(state.settings, push_daily_cap=1)
    loop = MaintenanceLoop.for_settings(
        settings,
        redis=state.redis,
        publisher=EventPublisher(redis=state.redis, prefix=settings.redis_prefix),
        orders=None,
        catalogue=None,
    )
    async with noon_with_a_browser(client, live_server.sms) as (push, till, member):
        for _ in range(2):
            await buy(client, till, purchase_body(member.card_number, amount=35000))
            assert (await loop.run_once()).pushes_queued == 1
            await deliver_push_due(push.providers, PushPolicy())
        # One a day: the first was sent at once, the second waits for the next morning.
        (first, _), second = await queued()
        assert (first, second) == ("delivered", ("pending", moscow(17, 8)))


async def waits_for_a_lock(task: asyncio.Task[int]) -> bool:
    """Whether ``task`` comes to wait for an advisory lock (False: it ended without)."""
    for _ in range(400):
        if task.done():
            return False
        (row,) = await sql.fetch(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
        if row["n"]:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_the_feed_and_a_daily_notice_at_once_keep_to_the_cap(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    async with noon_with_a_browser(client, live_server.sms) as (_push, till, member):
        member_id = uuid.UUID(member.member_id)
        await buy(client, till, purchase_body(member.card_number, amount=35000))
        counted, release = asyncio.Event(), asyncio.Event()

        async def daily_notice() -> None:
            # The notices' transaction: the member's lock taken, the day counted (empty),
            # its notice queued for now, committed only after the feed has started.
            async with engine().transaction():
                assert await lock_member_day(member_id, wait=False)
                counted.set()
                await release.wait()
                notice = birthday(member_id=member_id, year=2027, language="ru")
                now = datetime.now(UTC)
                assert await queue_for_member(member_id, notice, now=now, due=now) == 1

        notices = asyncio.create_task(daily_notice())
        # (the notices' task ending first, by a failure, stops the test: no hang)
        await asyncio.wait(
            {notices, asyncio.create_task(counted.wait())},
            return_when=asyncio.FIRST_COMPLETED,
        )
        assert counted.is_set(), notices.result()
        feed = asyncio.create_task(feed_push(daily_cap=1))
        # The feed waits for the member's lock instead of counting a day that is about
        # to hold the notice; then it counts it: the sale's push waits for tomorrow.
        waited = await waits_for_a_lock(feed)
        release.set()
        await notices
        assert await feed == 1
        assert waited
        today, tomorrow = sorted(await queued(), key=lambda queued: queued[1])
        assert today[0] == "pending" and today[1] < moscow(16, 13)
        assert tomorrow == ("pending", moscow(17, 8))
