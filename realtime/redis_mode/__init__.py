"""One Redis server or a Redis Cluster: the client, and what differs between them
(``RedisMode``: pub/sub, reads of many keys, pool figures; see ``base``)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from realtime.redis_mode.base import Listener, Received, RedisMode
from realtime.redis_mode.cluster import ClusterRedis
from realtime.redis_mode.single import SingleRedis

__all__ = ["Listener", "Received", "RedisMode", "connect_redis", "redis_mode_of"]


def connect_redis(
    url: str, *, cluster: bool, max_connections: int = 100, timeout_s: float = 5
) -> Redis:
    """A client of the server at ``url``, or of the cluster ``url`` is a node of."""
    mode = ClusterRedis if cluster else SingleRedis
    return mode.connect(url, max_connections=max_connections, timeout_s=timeout_s)


def redis_mode_of(client: Redis) -> RedisMode:
    if isinstance(client, RedisCluster):
        return ClusterRedis(client)
    return SingleRedis(client)
