"""redis-py's asyncio cluster client, made to fail as a single server's client does.

Every use of Redis on a sale's path fails open on ``RedisError`` (rate limits pass, the
terminal cache asks PostgreSQL, the publisher leaves events to the replay): PostgreSQL is the
truth. redis-py 8.1's cluster client also fails with errors that are no ``RedisError`` while
a node is down or coming back, and each made sales answer 500 in the cluster fault test:

- ``RedisClusterException`` when it cannot read the slot map from any node it knows, and
  ``SlotNotCoveredError`` when a slot has no node: here both are ``ClusterUnreachable``, a
  ``ConnectionError``. Other ``RedisClusterException``s (keys of several slots in one command:
  a bug of ours) stay what they are;
- the event loop's own error when a coroutine writes on a connection that another one has
  just closed (``AttributeError``/``TypeError`` from asyncio's transport, redis/redis-py#4287,
  normalised upstream by #4217 after 8.1; ``RuntimeError`` from uvloop's, which uvicorn runs):
  here a ``ConnectionError`` too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.asyncio.connection import Connection
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, SlotNotCoveredError
from redis.retry import Retry


class ClusterUnreachable(RedisConnectionError):
    """No node answers for the slot map, or a slot has no node."""


@contextmanager
def unreachable_as_connection_error() -> Iterator[None]:
    try:
        yield
    except RedisClusterException as exc:
        if isinstance(exc, SlotNotCoveredError) or "cannot be connected" in str(exc):
            raise ClusterUnreachable(str(exc)) from exc
        raise


class ClosingRaceSafeConnection(Connection):
    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        try:
            await super().send_packed_command(command, check_health)
        except (AttributeError, TypeError, RuntimeError) as exc:
            await self.disconnect(nowait=True)
            raise RedisConnectionError(f"connection closed while writing ({exc})") from exc


class FailOpenPipeline(ClusterPipeline):
    async def execute(
        self, raise_on_error: bool = True, allow_redirections: bool = True
    ) -> list[Any]:
        with unreachable_as_connection_error():
            return await super().execute(raise_on_error, allow_redirections)


class FailOpenRedisCluster(RedisCluster):
    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        with unreachable_as_connection_error():
            return await super().execute_command(*args, **kwargs)

    def pipeline(
        self, transaction: Any | None = None, shard_hint: Any | None = None
    ) -> ClusterPipeline:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)  # refused, as redis-py does
        # An ABC to mypy only: RedisCluster.pipeline makes a ClusterPipeline the same way.
        return FailOpenPipeline(self, transaction)  # type: ignore[abstract]


def cluster_client(url: str, *, max_connections: int, timeout_s: float) -> FailOpenRedisCluster:
    client = FailOpenRedisCluster.from_url(
        url,
        max_connections=max_connections,  # per node
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        # One retry, soon: redis-py's default (three, backing off up to 10 s) holds each
        # request for seconds while a node is down, where a sale should go on without
        # Redis. Redirects (MOVED, ASK) are not retries.
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=1),
    )
    assert isinstance(client, FailOpenRedisCluster)  # from_url makes its own class
    # The constructor fixes the class of node connections; nodes copy it from these settings
    # (the startup nodes are made already).
    client.nodes_manager.connection_kwargs["connection_class"] = ClosingRaceSafeConnection
    for node in client.nodes_manager.startup_nodes.values():
        node.connection_class = ClosingRaceSafeConnection
    return client
