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
    redis = Redis.from_url(servers.redis_url)
    sleepers = [asyncio.create_task(asyncio.sleep(60)) for _ in range(5)]
    pubsub = redis.pubsub()
    try:
        await redis.ping()
        sampler = ProcessSampler(is_ready=ready, redis=redis)
        await sampler.sample()
        tasks = gauge("astrocoffee_asyncio_tasks")
        assert tasks >= 5 + 1  # the sleepers and this test
        assert gauge("astrocoffee_redis_pool_connections", state="idle") == 1
        assert gauge("astrocoffee_redis_pool_connections", state="in_use") == 0

        await pubsub.subscribe("ac-test-sampler")  # holds a connection of the pool
        for sleeper in sleepers:
            sleeper.cancel()
        await asyncio.gather(*sleepers, return_exceptions=True)
        await sampler.sample()
        assert gauge("astrocoffee_asyncio_tasks") <= tasks - 5
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
