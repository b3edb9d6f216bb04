"""Redis stops while members are connected and tills keep selling; then it comes back.

The app under test gets a Redis of its own (a redis-server process this test starts and
kills: ``devkit/private_servers.py``), so the rest of the suite is not disturbed.
``tests/reliability/test_faults.py`` plays the same outage under a purchase load.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest

from backend.app import create_app
from backend.settings import load_settings
from devkit.private_servers import RedisProcess
from realtime import metrics
from realtime.client import MemberStreamClient
from tests.conftest import RecordingSmsSender, serving
from tests.factories import Till, log_in, purchase_body, sell
from tests.realtime.phones import phone_after_first_sale


@pytest.fixture
def redis_process() -> Iterator[RedisProcess]:
    redis = RedisProcess()
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
async def app_on_own_redis(redis_process: RedisProcess) -> AsyncIterator[tuple[str, Any]]:
    settings = msgspec.structs.replace(load_settings(), redis_url=redis_process.url)
    sms = RecordingSmsSender()
    async with serving(create_app(settings, otp_sender=sms)) as address:
        yield address, sms


async def test_sales_continue_without_redis_and_connected_phones_catch_up(
    app_on_own_redis: tuple[str, Any], redis_process: RedisProcess, till: Till
) -> None:
    address, sms = app_on_own_redis
    async with httpx.AsyncClient(base_url=f"http://{address}", timeout=15) as api:
        member, phone, stream = await phone_after_first_sale(api, address, sms, till)
        assert (await asyncio.wait_for(anext(stream), 10))["seq"] == 2

        redis_process.stop()
        during = [await sell(api, till, member) for _ in range(2)]
        assert [r.status_code for r in during] == [201, 201]  # PostgreSQL is the truth
        ready = await api.get("/health/ready")
        assert ready.status_code == 200  # still selling: the pod stays in the Service
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["redis"].startswith("failing")

        redis_process.start()  # same port, empty: nothing of the missed messages is in it
        frames = [await asyncio.wait_for(anext(stream), 20) for _ in range(4)]
        assert [f["seq"] for f in frames] == [3, 4, 5, 6]
        assert phone.connections == 1  # caught up without reconnecting
        assert (await api.get("/health/ready")).status_code == 200
        await stream.aclose()


async def test_after_redis_returns_only_the_streams_that_moved_are_replayed(
    app_on_own_redis: tuple[str, Any], redis_process: RedisProcess, till: Till
) -> None:
    """Twenty phones connected, Redis lost and back: the one member who bought meanwhile
    gets a replay of their stream; the nineteen others, and the broadcast stream nobody
    wrote to, cost one shared read of their newest seqs, not two replays each."""
    address, sms = app_on_own_redis
    async with httpx.AsyncClient(base_url=f"http://{address}", timeout=15) as api:
        members = [await log_in(api, sms) for _ in range(20)]
        phones = [
            MemberStreamClient(f"ws://{address}/v1/ws", m.access_token, last_seq=0) for m in members
        ]
        streams = [phone.events() for phone in phones]
        firsts = [asyncio.create_task(anext(stream)) for stream in streams]
        for member in members:  # each socket is followed live once: seq 1
            response = await api.post(
                "/v1/purchases",
                json=purchase_body(member.card_number),
                headers={**till.headers, "Idempotency-Key": str(time.monotonic_ns())},
            )
            assert response.status_code == 201
        assert [(await asyncio.wait_for(f, 10))["seq"] for f in firsts] == [1] * 20

        redis_process.stop()
        buyer = members[7]
        response = await api.post(
            "/v1/purchases",
            json=purchase_body(buyer.card_number),
            headers={**till.headers, "Idempotency-Key": str(time.monotonic_ns())},
        )
        assert response.status_code == 201
        replayed_before = metrics.REPLAYED._value.get()
        redis_process.start()
        caught_up = await asyncio.wait_for(anext(streams[7]), 20)
        assert caught_up["seq"] == 2
        await asyncio.sleep(0.5)  # the other sockets' checks, had they replayed anything
        assert metrics.REPLAYED._value.get() - replayed_before == 1
        assert all(phone.connections == 1 for phone in phones)
        for stream in streams:
            await stream.aclose()
