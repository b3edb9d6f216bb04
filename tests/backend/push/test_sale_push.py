"""A sale, with the member's app closed, reaches the member's browser, Android phone and
iPhone once each: the push feed queues the sale's points from the committed stream, in the
member's language, and the worker delivers them through Web Push, FCM and APNs (each a fake
speaking its protocol), through an outage and a Retry-After; a gone device is pruned, a
refusal is a dead letter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine
from prometheus_client import REGISTRY

from backend.push.providers import PushProvider
from backend.push.queue import PushPolicy, deliver_push_due, feed_push
from backend.push.texts import russian_plural
from backend.push.worker import push_until
from db import sql
from devkit.fakes.apns import ApnsService
from devkit.fakes.fcm import FcmService
from devkit.fakes.push_services import serving_push_fakes
from devkit.fakes.web_push import WebPushService
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, buy, log_in, purchase_body
from tests.rows import tuples

APNS_TOKEN = "c0ffee" * 10 + "beef"
FCM_TOKEN = "android-phone-of-the-member:APA91b" + "x" * 100


@dataclass
class PushServices:
    web_push: WebPushService
    fcm: FcmService
    apns: ApnsService
    providers: dict[str, PushProvider]
    subscription: dict[str, object]


@asynccontextmanager
async def push_services() -> AsyncIterator[PushServices]:
    async with serving_push_fakes() as fakes, AsyncExitStack() as stack:
        providers = fakes.providers()
        for provider in providers.values():
            stack.push_async_callback(provider.aclose)
        yield PushServices(fakes.web_push, fakes.fcm, fakes.apns, providers, fakes.browser())


async def register_devices(
    client: httpx.AsyncClient, member: LoggedInMember, subscription: dict[str, object]
) -> None:
    for body in (
        {"provider": "webpush", "subscription": subscription},
        {"provider": "fcm", "token": FCM_TOKEN},
        {"provider": "apns", "token": APNS_TOKEN},
    ):
        response = await client.post("/v1/me/devices", headers=member.headers, json=body)
        assert response.status_code == 201, response.text
    # These members keep no quiet hours, so that a test's outcome is not the hour it runs at
    # (test_quiet_hours.py sets the clock for them).
    never_quiet = {"quiet_hours": {"start": "00:00", "end": "00:00"}}
    response = await client.put("/v1/me/notifications", headers=member.headers, json=never_quiet)
    assert response.status_code == 200, response.text


OUTCOMES_SEEN = (
    ("webpush", "delivered"),
    ("fcm", "failed"),
    ("fcm", "delivered"),
    ("apns", "retry_after"),
    ("apns", "delivered"),
)


def attempts(provider: str, outcome: str) -> float:
    """The push attempts counted (this process's Prometheus registry)."""
    labels = {"provider": provider, "outcome": outcome}
    return REGISTRY.get_sample_value("astrocoffee_push_attempts_total", labels) or 0.0


async def deliveries() -> list[tuple[Any, ...]]:
    return await tuples(
        "SELECT v.provider, d.status FROM push_delivery d"
        " JOIN member_device v ON v.id = d.device ORDER BY v.provider"
    )


async def test_a_sale_reaches_each_provider_once_through_an_outage(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till
) -> None:
    policy = PushPolicy()
    async with push_services() as push:
        await register_devices(client, member, push.subscription)
        chosen = await client.put(
            "/v1/me/notifications", headers=member.headers, json={"language": "ru"}
        )
        assert chosen.status_code == 200
        sale = await buy(client, till, purchase_body(member.card_number, amount=35000))
        purchase_id = sale.json()["purchase_id"]

        # The app is closed: the feed reads the committed sale, once however often it runs.
        assert await feed_push() == 3
        assert await feed_push() == 0
        assert len(await deliveries()) == 3

        # FCM is down for the first try, APNs asks to wait: nothing lost, nothing doubled.
        push.fcm.fail_next = 1
        push.apns.too_many = 1
        before = {key: attempts(*key) for key in OUTCOMES_SEEN}
        assert await deliver_push_due(push.providers, policy) == 3
        assert await deliver_push_due(push.providers, policy) == 0  # the rest wait
        with time_machine.travel(datetime.now(UTC) + timedelta(minutes=10)):
            assert await deliver_push_due(push.providers, policy) == 2
            assert await deliver_push_due(push.providers, policy) == 0

    assert await deliveries() == [
        ("apns", "delivered"),
        ("fcm", "delivered"),
        ("webpush", "delivered"),
    ]
    counted = {key: attempts(*key) - before[key] for key in OUTCOMES_SEEN}
    assert counted == {
        ("webpush", "delivered"): 1,
        ("fcm", "failed"): 1,
        ("fcm", "delivered"): 1,
        ("apns", "retry_after"): 1,
        ("apns", "delivered"): 1,
    }
    assert sale.json()["points_earned"] == 17  # 350.00 at the default rules
    title = "+17 баллов"
    (web,) = push.web_push.received  # decrypted by the push service
    assert web["payload"]["title"] == title
    assert web["payload"]["data"] == {"purchase_id": purchase_id, "points": "17"}
    assert web["payload"]["tag"] == f"points_earned:{purchase_id}"
    (android,) = push.fcm.taken(FCM_TOKEN)
    assert android["payload"]["notification"]["title"] == title
    (iphone,) = push.apns.taken(APNS_TOKEN)
    assert iphone["payload"]["aps"]["alert"]["title"] == title
    assert iphone["collapse_id"] == f"points_earned:{purchase_id}"


async def test_a_device_the_provider_calls_gone_is_pruned_the_others_kept(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till
) -> None:
    async with push_services() as push:
        await register_devices(client, member, push.subscription)
        push.apns.gone.add(APNS_TOKEN)
        await buy(client, till, purchase_body(member.card_number))
        assert await feed_push() == 3
        assert await deliver_push_due(push.providers, PushPolicy()) == 3

    assert await deliveries() == [("fcm", "delivered"), ("webpush", "delivered")]
    listed = (await client.get("/v1/me/devices", headers=member.headers)).json()["items"]
    assert sorted(d["provider"] for d in listed) == ["fcm", "webpush"]


async def test_a_refusal_is_a_dead_letter_with_its_reason(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till
) -> None:
    async with push_services() as push:
        await register_devices(client, member, push.subscription)
        push.apns.topic = "ru.astrocoffee.other-app"  # APNs refuses the topic: no retry helps
        await buy(client, till, purchase_body(member.card_number))
        await feed_push()
        await deliver_push_due(push.providers, PushPolicy())

    (dead,) = await sql.fetch("SELECT status, last_error FROM push_delivery WHERE status = 'dead'")
    assert "TopicDisallowed" in dead["last_error"]


async def test_a_member_who_turned_points_off_is_not_told(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till
) -> None:
    async with push_services() as push:
        await register_devices(client, member, push.subscription)
    await client.put(
        "/v1/me/notifications", headers=member.headers, json={"kinds": {"points_earned": False}}
    )
    await buy(client, till, purchase_body(member.card_number))
    assert await feed_push() == 0
    assert await deliveries() == []


def test_russian_counts_points_in_its_three_forms() -> None:
    forms = {
        n: russian_plural(n, "балл", "балла", "баллов")
        for n in (1, 2, 5, 11, 12, 21, 22, 25, 111, 1001)
    }
    assert forms == {
        1: "балл",
        2: "балла",
        5: "баллов",
        11: "баллов",
        12: "баллов",
        21: "балл",
        22: "балла",
        25: "баллов",
        111: "баллов",
        1001: "балл",
    }


async def test_the_worker_sends_what_the_feed_queued_until_stopped(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till
) -> None:
    async with push_services() as push:
        await register_devices(client, member, push.subscription)
        await buy(client, till, purchase_body(member.card_number))
        await feed_push()
        stopping = asyncio.Event()
        worker = asyncio.create_task(
            push_until(stopping, push.providers, PushPolicy(), idle_s=0.05)
        )
        for _ in range(100):
            if len(await deliveries()) == 3 and all(
                s == "delivered" for _, s in await deliveries()
            ):
                break
            await asyncio.sleep(0.05)
        stopping.set()
        await worker

    taken = [push.web_push.received, push.fcm.received, push.apns.received]
    assert [len(received) for received in taken] == [1, 1, 1]


async def test_a_token_that_changes_hands_takes_no_pending_push_along(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till, live_server: LiveServer
) -> None:
    async with push_services() as push:
        await register_devices(client, member, push.subscription)
        await buy(client, till, purchase_body(member.card_number))
        assert await feed_push() == 3
        # Before the worker runs, the iPhone is signed in by someone else.
        other = await log_in(client, live_server.sms)
        moved = await client.post(
            "/v1/me/devices", headers=other.headers, json={"provider": "apns", "token": APNS_TOKEN}
        )
        assert moved.status_code == 201
        assert await deliver_push_due(push.providers, PushPolicy()) == 2

    assert push.apns.received == []
    assert await deliveries() == [("fcm", "delivered"), ("webpush", "delivered")]


async def test_sales_of_members_without_a_device_cost_the_feed_no_statement_each(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    member: LoggedInMember,
    till: Till,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The feed asks once which of the run's members have a device; the events of the others
    are skipped without reading their settings, zone or cap (issue #24: a serving process's
    round had thousands of them). A member with devices among them is pushed as before."""
    sent: list[str] = []
    fetch = sql.fetch
    feeding = asyncio.current_task()

    async def counted(template: str, /, **params: object) -> list[sql.Row]:
        if asyncio.current_task() is feeding:  # not the in-process server's own tasks
            sent.append(template)
        return await fetch(template, **params)

    monkeypatch.setattr(sql, "fetch", counted)

    async def statements_of_a_feed_after(buyers: list[LoggedInMember]) -> int:
        for buyer in buyers:
            assert (await buy(client, till, purchase_body(buyer.card_number))).status_code == 201
        sent.clear()
        await feed_push()
        return len(sent)

    one = await statements_of_a_feed_after([await log_in(client, live_server.sms)])
    three = [await log_in(client, live_server.sms) for _ in range(3)]
    assert await statements_of_a_feed_after(three) == one
    async with push_services() as push:
        await register_devices(client, member, push.subscription)
    await buy(client, till, purchase_body(member.card_number))
    assert await feed_push() == 3  # the member's three devices, one delivery each
