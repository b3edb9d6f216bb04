"""Operating the push worker: a circuit breaker per provider, the queue's lag gauge, and the
dead letters an admin retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine
from prometheus_client import REGISTRY

from backend.accounting.outbox import DeliveryPolicy as Backoff
from backend.push import metrics
from backend.push.breakers import ProviderBreakers
from backend.push.operations import sample_push_figures
from backend.push.queue import PushPolicy, deliver_push_due, feed_push
from db import sql
from tests.backend.push.opening import moscow
from tests.backend.push.test_sale_push import push_services
from tests.factories import LoggedInMember, Till, buy, hire, purchase_body
from tests.rows import tuples


@pytest.fixture(autouse=True)
def noon_in_moscow() -> Iterator[None]:
    """Each test at noon on a fixed day in Moscow, the clock ticking from there (the member
    and the till made inside it): out of the default quiet hours (22:00-08:00 on the
    member's clock), which put every push off and failed these tests when the suite ran in
    the Moscow night."""
    with time_machine.travel(moscow(16, 12), tick=True):
        yield


ONE_TRY = PushPolicy(backoff=Backoff(max_attempts=1, backoff_base_s=1.0, backoff_cap_s=1.0))


class Clock:
    """The breakers' monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


PHONES = [f"phone-{n}:APA91b" + "x" * 100 for n in range(3)]


async def add_phones(client: httpx.AsyncClient, member: LoggedInMember, count: int = 1) -> None:
    """The member's Android phones: one sale is one push to each (the daily cap is per
    member and day, not per device)."""
    for token in PHONES[:count]:
        body = {"provider": "fcm", "token": token}
        response = await client.post("/v1/me/devices", headers=member.headers, json=body)
        assert response.status_code == 201, response.text


async def fcm_rows() -> list[tuple[Any, ...]]:
    return await tuples("SELECT status, attempts FROM push_delivery ORDER BY created_at, id")


def paused() -> float:
    return REGISTRY.get_sample_value("astrocoffee_push_paused_total", {"provider": "fcm"}) or 0.0


async def test_a_failing_provider_is_paused_its_pushes_put_off_then_probed(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till
) -> None:
    clock = Clock()
    breakers = ProviderBreakers(threshold=3, pause_s=60.0, clock=clock)
    policy = PushPolicy()
    start = datetime.now(UTC)
    async with push_services() as push:
        await add_phones(client, member, 3)
        await buy(client, till, purchase_body(member.card_number, amount=35000))
        assert await feed_push() == 3

        # FCM is down: three outages in a row open its circuit.
        push.fcm.down = True
        assert await deliver_push_due(push.providers, policy, breakers=breakers) == 3
        assert await fcm_rows() == [("pending", 1)] * 3
        assert breakers.of("fcm").state == "open"
        assert metrics.CIRCUIT_OPEN.labels(provider="fcm")._value.get() == 1

        # Due again, but the circuit is open: put off, not sent, not counted as attempts.
        before = paused()
        with time_machine.travel(start + timedelta(minutes=10)):
            assert await deliver_push_due(push.providers, policy, breakers=breakers) == 3
        assert paused() - before == 3
        assert await fcm_rows() == [("pending", 1)] * 3

        # FCM is back; after the pause one push is the trial, the others wait for it.
        push.fcm.down = False
        clock.now = 60.0
        with time_machine.travel(start + timedelta(minutes=20)):
            assert await deliver_push_due(push.providers, policy, breakers=breakers) == 3
        assert sorted(await fcm_rows()) == [("delivered", 2), ("pending", 1), ("pending", 1)]
        assert breakers.of("fcm").state == "closed"
        with time_machine.travel(start + timedelta(minutes=21)):
            assert await deliver_push_due(push.providers, policy, breakers=breakers) == 2

    assert await fcm_rows() == [("delivered", 2)] * 3
    # Each phone told once: nothing lost, nothing doubled.
    assert [len(push.fcm.taken(token)) for token in PHONES] == [1, 1, 1]
    assert metrics.CIRCUIT_OPEN.labels(provider="fcm")._value.get() == 0


async def test_a_failed_trial_opens_the_circuit_again(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till
) -> None:
    clock = Clock()
    breakers = ProviderBreakers(threshold=1, pause_s=60.0, clock=clock)
    start = datetime.now(UTC)
    async with push_services() as push:
        await add_phones(client, member, 2)
        await buy(client, till, purchase_body(member.card_number))
        assert await feed_push() == 2
        push.fcm.down = True
        await deliver_push_due(push.providers, PushPolicy(), breakers=breakers)
        clock.now = 60.0
        with time_machine.travel(start + timedelta(minutes=30)):
            await deliver_push_due(push.providers, PushPolicy(), breakers=breakers)

    # Each tried once, then one trial that failed: open again for a full pause.
    assert sorted(await fcm_rows()) == [("pending", 1), ("pending", 2)]
    assert breakers.of("fcm").state == "open"
    assert breakers.paused_for_s("fcm") == 60.0


async def test_the_lag_is_the_age_of_the_oldest_due_push(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till
) -> None:
    await add_phones(client, member)
    await buy(client, till, purchase_body(member.card_number))
    queued_at = datetime.now(UTC) + timedelta(seconds=1)
    assert await feed_push(now=queued_at) == 1

    await sample_push_figures(now=queued_at + timedelta(seconds=90))
    assert metrics.LAG._value.get() == 90.0
    assert metrics.PENDING._value.get() == 1
    await sample_push_figures(now=queued_at - timedelta(seconds=5))  # not due yet: no lag
    assert metrics.LAG._value.get() == 0.0


async def test_an_admin_lists_push_dead_letters_and_retries_one(
    client: httpx.AsyncClient, member: LoggedInMember, till: Till
) -> None:
    async with push_services() as push:
        await add_phones(client, member)
        push.fcm.fail_next = 1
        await buy(client, till, purchase_body(member.card_number))
        await feed_push()
        await deliver_push_due(push.providers, ONE_TRY)
    await sample_push_figures()
    assert metrics.DEAD_LETTERS._value.get() == 1

    admin = await hire(client, "admin")
    listed = await client.get("/v1/admin/push/dead-letters", headers=admin.headers)
    assert listed.status_code == 200
    (item,) = listed.json()["items"]
    assert (item["provider"], item["kind"], item["attempts"]) == ("fcm", "points_earned", 1)
    assert item["member"] == member.member_id
    assert item["last_error"]

    path = f"/v1/admin/push/dead-letters/{item['id']}/retry"
    retried = await client.post(path, headers=admin.headers)
    assert retried.json() == {"id": item["id"], "status": "pending"}
    assert await fcm_rows() == [("pending", 0)]
    again = await client.post(path, headers=admin.headers)
    assert again.status_code == 409
    (entry,) = await sql.fetch(
        "SELECT before->>'status' AS was FROM audit_entry WHERE action = 'push.retried' AND target_id = {id}",
        id=item["id"],
    )
    assert entry["was"] == "dead"
