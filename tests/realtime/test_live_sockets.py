"""The record of a device's open socket (``realtime.live_sockets``), on real sockets and a
real Redis: a socket that names no device records nothing; one that does records what it
sent, its answer to a ping refreshes the record; a Redis that cannot be reached costs the
record only (counted), never the socket."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
import websockets
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from realtime.channels import member_stream
from realtime.live_sockets import LiveSockets, live_key
from tests.conftest import LiveServer
from tests.factories import LoggedInMember


def socket_url(live_server: LiveServer, member: LoggedInMember, **query: Any) -> str:
    return f"{live_server.ws_url}/v1/ws?" + urlencode(
        {"token": member.access_token, "last_seq": 0, **query}
    )


async def ping(socket: Any) -> None:
    await socket.send(json.dumps({"type": "ping"}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "pong"


async def waited(redis: Redis, key: str, check: Any) -> Any:
    """The key's TTL in ms once ``check(ttl)`` holds (the record is written just after the
    socket's sends, never in their way); fails after 10 s."""
    for _ in range(500):
        ttl = await redis.pttl(key)
        if check(ttl):
            return ttl
        await asyncio.sleep(0.02)
    raise AssertionError(f"{key}: its TTL never passed the check")


async def test_a_ping_answered_records_the_socket_and_later_ones_refresh_it(
    live_server: LiveServer, member: LoggedInMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = live_server.app.state
    sockets: LiveSockets = state.live_sockets
    monkeypatch.setattr(sockets, "refresh_s", 0.0)  # every answer refreshes (15 s deployed)
    device = str(uuid.uuid4())
    key = live_key(state.settings.redis_prefix, member_stream(member.member_id), device)
    async with websockets.connect(socket_url(live_server, member, device=device)) as socket:
        assert json.loads(await socket.recv())["type"] == "ready"
        await ping(socket)
        await waited(state.redis, key, lambda ttl: ttl > 0)
        assert await state.redis.get(key) == b"0"  # nothing of the stream sent yet
        # Nearly expired (as after a quiet while): the next ping's answer renews it.
        await state.redis.pexpire(key, 200)
        await ping(socket)
        renewed = await waited(state.redis, key, lambda ttl: ttl > 1000)
        assert renewed <= sockets.ttl_s * 1000


async def test_a_socket_that_names_no_device_records_nothing(
    live_server: LiveServer, member: LoggedInMember
) -> None:
    state = live_server.app.state
    prefix = f"{state.settings.redis_prefix}live:"
    async with websockets.connect(socket_url(live_server, member)) as socket:
        assert json.loads(await socket.recv())["type"] == "ready"
        await ping(socket)
        await ping(socket)
    assert [key async for key in state.redis.scan_iter(match=f"{prefix}*")] == []


async def test_a_redis_out_of_reach_loses_the_record_not_the_socket() -> None:
    unreachable = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    before = REGISTRY.get_sample_value("astrocoffee_websocket_live_marks_failed_total") or 0.0
    mark = LiveSockets(unreachable, prefix="t:").mark(member_stream("m"), "d")
    mark.shown(5)
    for _ in range(500):
        if mark._task is None:
            break
        await asyncio.sleep(0.02)
    assert mark._task is None and mark.written == -1
    after = REGISTRY.get_sample_value("astrocoffee_websocket_live_marks_failed_total")
    assert after == before + 1
    await unreachable.aclose()
