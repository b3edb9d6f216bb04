from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from backend.app import create_app
from backend.auth.middleware import COUNT_AT_AUTHENTICATION
from backend.auth.terminals import counted_caller
from backend.rate_limits import RequestCounter, Tally, per_client_ip, per_terminal
from backend.settings import load_settings
from tests.conftest import RecordingSmsSender, serving
from tests.factories import open_till, purchase_body, unique_phone

UNKNOWN_CARD = "7700000000000008"  # valid check digit, no member


@pytest.fixture
async def strict_client() -> AsyncIterator[httpx.AsyncClient]:
    """The app built with small limits, served beside the main test server."""
    settings = msgspec.structs.replace(
        load_settings(), auth_rate_limit_per_minute=5, pos_rate_limit_per_minute=3
    )
    app = create_app(settings, otp_sender=RecordingSmsSender())
    async with serving(app) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
        yield http


async def test_login_routes_are_limited_per_client_address(
    strict_client: httpx.AsyncClient,
) -> None:
    statuses = [
        (await strict_client.post("/v1/auth/otp", json={"phone": unique_phone()})).status_code
        for _ in range(6)
    ]
    assert statuses == [202] * 5 + [429]
    throttled = await strict_client.post(
        "/v1/staff/token", json={"email": "a@b.cd", "password": "x"}
    )
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "too_many_requests"
    assert throttled.headers["ratelimit-limit"] == "5"


async def test_codes_to_one_phone_are_limited(client: httpx.AsyncClient) -> None:
    # The main test app: its per-address limit is out of the way, its per-phone limit is not.
    phone = unique_phone()
    limit = load_settings().otp_sends_per_phone
    for _ in range(limit):
        assert (await client.post("/v1/auth/otp", json={"phone": phone})).status_code == 202
    refused = await client.post("/v1/auth/otp", json={"phone": phone})
    assert refused.status_code == 429
    assert "phone" in refused.json()["detail"]
    assert (await client.post("/v1/auth/otp", json={"phone": unique_phone()})).status_code == 202


async def test_the_pos_api_is_limited_per_terminal(strict_client: httpx.AsyncClient) -> None:
    till, other_till = await open_till(), await open_till()

    async def sale(headers: dict[str, str]) -> int:
        response = await strict_client.post(
            "/v1/purchases",
            json=purchase_body(UNKNOWN_CARD),
            headers={**headers, "Idempotency-Key": unique_phone()},
        )
        return response.status_code

    statuses = [await sale(till.headers) for _ in range(4)]
    assert statuses == [404, 404, 404, 429]  # served (no such card) until the budget is spent
    assert await sale(other_till.headers) == 404  # another till has its own budget


async def test_the_count_slides_over_the_previous_minute(servers: Any) -> None:
    """Requests of the previous minute still count, weighted by how much of that minute is
    inside the last 60 s; so a caller cannot double its budget at a minute's turn."""
    redis = Redis.from_url(servers.redis_url)
    counter = RequestCounter(redis, prefix=f"{servers.redis_prefix}test-{uuid.uuid4().hex}:")
    start = 60 * 29_000_000.0  # the start of some minute
    try:
        for i in range(10):
            tally = await counter.count("pos", "till", now=start + 50)
            assert tally is not None and tally.used == i + 1
        # 30 s into the next minute: half of the previous minute is still in the window.
        tally = await counter.count("pos", "till", now=start + 90)
        assert tally == Tally(used=1 + 5, reset_s=30)
        # Another caller and another limit have budgets of their own.
        assert await counter.count("pos", "other till", now=start + 90) == Tally(1, 30)
        assert await counter.count("login", "till", now=start + 90) == Tally(1, 30)
        # Two minutes on, nothing of the first minute is left.
        assert await counter.count("pos", "till", now=start + 150) == Tally(used=1 + 0, reset_s=30)
    finally:
        await redis.aclose()


async def test_without_redis_nobody_is_throttled() -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        assert await RequestCounter(redis, prefix="x:").count("pos", "till") is None
    finally:
        await redis.aclose()


async def test_a_count_that_reads_counts_only_a_held_entry(servers: Any) -> None:
    """``count_if_held``, the read of a terminal's cache entry that counts its request in the
    same round trip: a missing entry or a tombstone is read and nothing counted; a held one
    is counted in the counters ``count`` uses, with the same tally."""
    redis = Redis.from_url(servers.redis_url)
    prefix = f"{servers.redis_prefix}test-{uuid.uuid4().hex}:"
    counter = RequestCounter(redis, prefix=prefix)
    caller = counted_caller("abc")
    entry = f"{prefix}terminal:{{{caller}}}"
    start = 60 * 29_000_000.0
    try:
        assert await counter.count_if_held("pos", caller, key=entry, unless=b"x", now=start) == (
            None,
            None,
        )
        await redis.set(entry, b"x")
        assert await counter.count_if_held("pos", caller, key=entry, unless=b"x", now=start) == (
            b"x",
            None,
        )
        assert await redis.keys(f"{prefix}pos:*") == []  # nothing counted
        await redis.set(entry, b"terminal")
        for i in range(4):
            held, tally = await counter.count_if_held(
                "pos", caller, key=entry, unless=b"x", now=start + 50
            )
            assert held == b"terminal" and tally == Tally(used=i + 1, reset_s=10)
        assert await counter.count("pos", caller, now=start + 50) == Tally(5, 10)  # one budget
        held, tally = await counter.count_if_held(
            "pos", caller, key=entry, unless=b"x", now=start + 90
        )
        assert tally == Tally(used=1 + 2, reset_s=30)  # half of the previous minute's 5
        # The entry and the counters share a Redis Cluster slot (the caller's hash tag).
        slots = {key_slot(key) for key in [entry.encode(), *await redis.keys(f"{prefix}pos:*")]}
        assert len(slots) == 1
    finally:
        await redis.aclose()


async def test_without_redis_tills_sell_unthrottled() -> None:
    """Redis unreachable: the terminal is found in the database and the sale goes through
    with no rate-limit headers (nobody is throttled), as before the count moved into the
    key's lookup."""
    settings = msgspec.structs.replace(
        load_settings(), redis_url="redis://127.0.0.1:1/0", pos_rate_limit_per_minute=1
    )
    app = create_app(settings, otp_sender=RecordingSmsSender())
    till = await open_till()
    async with serving(app) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
        for _ in range(3):
            response = await http.post(
                "/v1/purchases",
                json=purchase_body(UNKNOWN_CARD),
                headers={**till.headers, "Idempotency-Key": unique_phone()},
            )
            assert response.status_code == 404  # authenticated, served: no such card
            assert "ratelimit-limit" not in response.headers


def test_only_a_limit_by_terminal_key_counts_at_authentication() -> None:
    # Its counters share the hash tag of the key's cache entry; an address's would not.
    assert per_terminal(3).opt[COUNT_AT_AUTHENTICATION].name == "pos"
    assert per_client_ip(3).opt == {}
