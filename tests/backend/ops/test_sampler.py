from __future__ import annotations

import asyncio

import httpx
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from backend.ops.sampler import ProcessSampler
from tests.servers import RunServers


def gauge(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    assert value is not None, f"{name}{labels} not sampled"
    return value


async def ready() -> bool:
    return True


async def test_sampler_counts_asyncio_tasks_and_redis_connections(servers: RunServers) -> None:
    # The count is taken in an event loop of the test's own, in a thread: the session's loop
    # also runs the live server's background loops, whose tasks come and go as they please.
    await asyncio.to_thread(asyncio.run, sample_in_a_quiet_loop(servers.redis_url))


async def sample_in_a_quiet_loop(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    sleepers = [asyncio.create_task(asyncio.sleep(60)) for _ in range(5)]
    pubsub = redis.pubsub()
    try:
        await redis.ping()
        sampler = ProcessSampler(is_ready=ready, redis=redis)
        await sampler.sample()
        assert gauge("astrocoffee_asyncio_tasks") == 5 + 1  # the sleepers and this coroutine
        assert gauge("astrocoffee_redis_pool_connections", state="idle") == 1
        assert gauge("astrocoffee_redis_pool_connections", state="in_use") == 0

        await pubsub.subscribe("ac-test-sampler")  # holds a connection of the pool
        for sleeper in sleepers:
            sleeper.cancel()
        await asyncio.gather(*sleepers, return_exceptions=True)
        await sampler.sample()
        assert gauge("astrocoffee_asyncio_tasks") == 1
        assert gauge("astrocoffee_redis_pool_connections", state="in_use") == 1
    finally:
        for sleeper in sleepers:
            sleeper.cancel()
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await redis.aclose()


async def test_the_app_exposes_the_sampled_gauges(client: httpx.AsyncClient) -> None:
    text = (await client.get("/metrics")).text
    assert "astrocoffee_asyncio_tasks " in text
    assert 'astrocoffee_redis_pool_connections{state="in_use"}' in text
    assert 'astrocoffee_db_pool_connections{node="primary",state="idle"}' in text
