from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from realtime.channels import channel as channel_of
from realtime.hub import Hub
from tests.servers import RunServers


class Recorder:
    def __init__(self) -> None:
        self.delivered: list[bytes] = []
        self.catch_ups = 0

    def deliver(self, raw: bytes) -> None:
        self.delivered.append(raw)

    def catch_up(self) -> None:
        self.catch_ups += 1


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def redis(servers: RunServers) -> AsyncIterator[Redis]:
    client = Redis.from_url(servers.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def prefix(servers: RunServers) -> str:
    """The hub's Redis prefix in this run: its channels are named after it."""
    return servers.redis_prefix + "hub:"


@pytest.fixture
async def hub(redis: Redis, prefix: str) -> AsyncIterator[Hub]:
    hub = Hub(redis=redis, prefix=prefix)
    await hub.start()
    await eventually(lambda: hub.healthy)
    yield hub
    await hub.stop()


async def subscribers(redis: Redis, channel: str) -> int:
    counts = await redis.pubsub_numsub(channel)
    return int(counts[0][1])


async def test_a_channel_is_subscribed_while_a_local_socket_needs_it(
    hub: Hub, redis: Redis, prefix: str
) -> None:
    channel = channel_of(prefix, "member:m1")
    first, second = Recorder(), Recorder()
    await hub.join("member:m1", first)
    await hub.join("member:m1", second)
    assert await subscribers(redis, channel) == 1  # one Redis subscription per process

    await redis.publish(channel, b'{"seq": 1}')
    await eventually(lambda: len(first.delivered) == 1 and len(second.delivered) == 1)

    await hub.leave("member:m1", first)
    assert await subscribers(redis, channel) == 1
    await hub.leave("member:m1", second)
    assert hub.channel_count == 0
    # Unsubscribing is queued for the listener task, the only user of the connection.
    for _ in range(100):
        if await subscribers(redis, channel) == 0:
            break
        await asyncio.sleep(0.02)
    assert await subscribers(redis, channel) == 0


async def test_a_join_racing_a_leave_ends_subscribed(hub: Hub, redis: Redis, prefix: str) -> None:
    channel = channel_of(prefix, "member:m2")
    old, new = Recorder(), Recorder()
    await hub.join("member:m2", old)
    await asyncio.gather(hub.leave("member:m2", old), hub.join("member:m2", new))
    assert await subscribers(redis, channel) == 1
    await redis.publish(channel, b'{"seq": 5}')
    await eventually(lambda: new.delivered == [b'{"seq": 5}'])
    assert old.delivered == []


async def test_after_redis_drops_the_hub_resubscribes_and_asks_for_catch_up(
    hub: Hub, redis: Redis, prefix: str
) -> None:
    channel = channel_of(prefix, "member:m3")
    recorder = Recorder()
    await hub.join("member:m3", recorder)

    await redis.client_kill_filter(_type="pubsub")
    await eventually(lambda: recorder.catch_ups == 1)
    assert hub.healthy

    await redis.publish(channel, b'{"seq": 9}')
    await eventually(lambda: recorder.delivered == [b'{"seq": 9}'])
