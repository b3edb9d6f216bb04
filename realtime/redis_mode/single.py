"""One Redis server (the default): classic pub/sub, ``MGET``, one connection pool."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline, PubSub
from redis.exceptions import RedisError

from realtime.redis_mode.base import Received, ReconnectWatch, heard


class ServerListener:
    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub
        self._watch = ReconnectWatch()

    async def subscribe(self, channels: Sequence[str]) -> None:
        await self._pubsub.subscribe(*channels)
        self._watch.watch([self._pubsub])

    async def unsubscribe(self, channels: Sequence[str]) -> None:
        await self._pubsub.unsubscribe(*channels)

    async def next_message(self, timeout_s: float) -> Received | None:
        self._watch.check()
        message = await self._pubsub.get_message(timeout=timeout_s)
        if message is None:
            return None
        return heard(message, confirmed="subscribe", published="message")

    async def ping(self) -> None:
        await self._pubsub.ping()

    async def aclose(self) -> None:
        self._watch.forget()
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]


class SingleRedis:
    def __init__(self, client: Redis) -> None:
        self._client = client

    @staticmethod
    def connect(url: str, *, max_connections: int, timeout_s: float) -> Redis:
        # Waiting for a free connection, not failing at once: redis-py's plain pool raises
        # "Too many connections" past its cap, which a burst of sockets connecting reaches.
        return Redis.from_pool(
            BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                timeout=timeout_s,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
            )
        )

    def publish(self, pipe: Pipeline, channel: str, message: bytes) -> None:
        pipe.publish(channel, message)

    async def listener(self) -> ServerListener:
        return ServerListener(self._client.pubsub())

    async def read_many(self, keys: Sequence[str]) -> list[bytes | None]:
        # Bytes: the client never decodes (no decode_responses).
        return cast("list[bytes | None]", await self._client.mget(list(keys)))

    def connection_counts(self) -> tuple[int, int]:
        # redis-py's own figures of its pool: (count, attributes) by connection state.
        counts = {
            attributes.get("db.client.connection.state"): count
            for count, attributes in self._client.connection_pool.get_connection_count()
        }
        return counts.get("used", 0), counts.get("idle", 0)

    async def check(self) -> None:
        await self._client.ping()
