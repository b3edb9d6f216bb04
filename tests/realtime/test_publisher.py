"""What the publisher remembers for the relay: asked in bounded chunks, whatever the number of
recently active members."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from realtime.publisher import MGET_CHUNK, PUBLISH_CHUNK, EventPublisher
from tests.servers import RunServers


@pytest.fixture
async def redis(servers: RunServers) -> AsyncIterator[Redis]:
    client = Redis.from_url(servers.redis_url)
    yield client
    await client.aclose()


async def test_published_seqs_of_many_members_come_back_whole_in_chunks(
    redis: Redis, servers: RunServers
) -> None:
    publisher = EventPublisher(redis=redis, prefix=servers.redis_prefix + "pub:")
    members = [str(uuid.uuid4()) for _ in range(2 * MGET_CHUNK + 7)]
    known = {members[0]: 3, members[MGET_CHUNK]: 5, members[-1]: 9}
    for member, seq in known.items():
        await redis.set(publisher._published_key(member), seq)
    commands: list[int] = []
    original = redis.mget

    async def counting_mget(keys: list[str]) -> list[bytes | None]:
        commands.append(len(keys))
        return await original(keys)

    redis.mget = counting_mget  # type: ignore[method-assign]
    found = await publisher.published_seqs(members)
    assert found == {m: known.get(m) for m in members}
    assert commands == [MGET_CHUNK, MGET_CHUNK, 7]


async def test_a_redis_that_forgot_the_script_still_gets_the_events_and_their_seq(
    redis: Redis, servers: RunServers
) -> None:
    """The publisher sends its script by SHA; a Redis without it (restarted, flushed) is sent
    the text, once, and the seq is remembered all the same."""
    from realtime.channels import member_stream
    from realtime.protocol import EventEnvelope, encode, utc_now

    publisher = EventPublisher(redis=redis, prefix=servers.redis_prefix + "pub:")
    member = str(uuid.uuid4())
    stream = member_stream(uuid.UUID(member))
    listener = redis.pubsub()
    await listener.subscribe(servers.redis_prefix + "pub:" + stream)
    await redis.script_flush()
    for seq in (1, 2):
        envelope = encode(EventEnvelope("balance.updated", seq, utc_now(), {}))
        assert await publisher.publish([(stream, envelope)])
    assert await publisher.published_seqs([member]) == {member: 2}
    heard = []
    for _ in range(10):  # get_message answers None for the subscription's own message
        message = await listener.get_message(ignore_subscribe_messages=True, timeout=1)
        if message is not None:
            heard.append(message["data"])
        if len(heard) == 2:
            break
    await listener.aclose()  # type: ignore[no-untyped-call]
    assert len(heard) == 2


async def test_a_campaign_batch_goes_out_in_bounded_pipelines_in_order(
    redis: Redis, servers: RunServers
) -> None:
    """A telling batch's thousands of events: pipelines of ``PUBLISH_CHUNK`` events at most,
    every event heard in order, the newest seq remembered."""
    from realtime.channels import member_stream
    from realtime.protocol import EventEnvelope, encode, envelope_seq, utc_now

    publisher = EventPublisher(redis=redis, prefix=servers.redis_prefix + "pub:")
    member = uuid.uuid4()
    stream = member_stream(member)
    listener = redis.pubsub()
    await listener.subscribe(servers.redis_prefix + "pub:" + stream)
    count = 2 * PUBLISH_CHUNK + 3
    events = [
        (stream, encode(EventEnvelope("offer.available", seq, utc_now(), {})))
        for seq in range(1, count + 1)
    ]
    pipelines: list[int] = []
    original = redis.pipeline

    def counting_pipeline(*args: object, **kwargs: object) -> object:
        pipelines.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    redis.pipeline = counting_pipeline  # type: ignore[method-assign, assignment]
    assert await publisher.publish(events)
    redis.pipeline = original  # type: ignore[method-assign]
    assert len(pipelines) == 3
    assert await publisher.published_seqs([str(member)]) == {str(member): count}
    heard: list[int] = []
    for _ in range(count + 10):  # None for the subscription's own message
        message = await listener.get_message(ignore_subscribe_messages=True, timeout=1)
        if message is not None:
            heard.append(envelope_seq(message["data"]))
        if len(heard) == count:
            break
    await listener.aclose()  # type: ignore[no-untyped-call]
    assert heard == list(range(1, count + 1))
