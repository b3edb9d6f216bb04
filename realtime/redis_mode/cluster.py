"""A Redis Cluster (7.0+): sharded pub/sub, reads of many keys grouped by slot.

A classic ``PUBLISH`` on a cluster is copied over the cluster bus to every node, so each
node carries every event of the chain however many nodes there are: pub/sub would not scale
out. ``SPUBLISH`` stays on the node that owns the channel's slot, and each process listens
(``SSUBSCRIBE``) on the nodes owning its sockets' channels only.

redis-py's asyncio ``ClusterPubSub`` (redis 8.1, pinned in constraints.txt) keeps one
connection per node and routes each ``SSUBSCRIBE`` by the channel's slot; Redis 7.0 refuses
one ``SSUBSCRIBE`` naming channels of several slots, so channels are asked one by one.
When a slot moves (a reshard, a failover) Redis ends the subscriptions of its channels with
a ``sunsubscribe`` nobody asked for; redis-py would resubscribe on the new owner in the
background, but what was published in between is lost. Here an unasked ``sunsubscribe``
is an error instead: the hub opens a new listener, which first reads the cluster's slot map
again (following the move, as a ``MOVED`` would), and catches every socket up from
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPubSub, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from realtime.redis_mode.base import Received, ReconnectWatch, channel_of, heard
from realtime.redis_mode.cluster_client import (
    ClusterUnreachable,
    cluster_client,
    unreachable_as_connection_error,
)


class ShardListener:
    def __init__(self, pubsub: ClusterPubSub) -> None:
        self._pubsub = pubsub
        self._watch = ReconnectWatch()
        self._leaving: set[str] = set()

    async def subscribe(self, channels: Sequence[str]) -> None:
        for channel in channels:  # one slot per SSUBSCRIBE
            self._leaving.discard(channel)
            with unreachable_as_connection_error():  # its slot has no node
                await self._pubsub.ssubscribe(channel)
        self._watch.watch(self._pubsub.node_pubsub_mapping.values())

    async def unsubscribe(self, channels: Sequence[str]) -> None:
        for channel in channels:
            self._leaving.add(channel)
            await self._pubsub.sunsubscribe(channel)

    async def next_message(self, timeout_s: float) -> Received | None:
        self._watch.check()
        if not self._pubsub.node_pubsub_mapping:
            # Nothing subscribed: redis-py would return at once, and its caller spin.
            await asyncio.sleep(timeout_s)
            return None
        with unreachable_as_connection_error():
            message = await self._pubsub.get_sharded_message(timeout=timeout_s)
        if message is None:
            return None
        received = heard(message, confirmed="ssubscribe", published="smessage")
        if received is not None or message["type"] != "sunsubscribe":
            return received
        channel = channel_of(message)
        if channel not in self._leaving:
            raise RedisConnectionError(f"the slot of {channel} moved: messages may be lost")
        self._leaving.discard(channel)
        return None

    async def ping(self) -> None:
        for pubsub in list(self._pubsub.node_pubsub_mapping.values()):
            await pubsub.ping()

    async def aclose(self) -> None:
        self._watch.forget()
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()


class ClusterRedis:
    def __init__(self, client: RedisCluster) -> None:
        self._client = client

    @staticmethod
    def connect(url: str, *, max_connections: int, timeout_s: float) -> Redis:
        client = cluster_client(url, max_connections=max_connections, timeout_s=timeout_s)
        # Typed as the single-server client the services are written against: a cluster
        # client takes the same commands, and what differs goes through ``redis_mode_of``.
        return cast("Redis", client)

    def publish(self, pipe: Pipeline, channel: str, message: bytes) -> None:
        pipe.spublish(channel, message)

    async def listener(self) -> ShardListener:
        # The slot map as the cluster has it now: a listener opens after a failure, which may
        # have been a slot that moved.
        with unreachable_as_connection_error():
            await self._client.nodes_manager.initialize()
        # And only once the cluster takes commands again: the hub catches its sockets up as
        # soon as it listens, and an event published before the cluster took it would be
        # left for the relay.
        await self.check()
        return ShardListener(self._client.pubsub())

    async def read_many(self, keys: Sequence[str]) -> list[bytes | None]:
        # One MGET per slot (pipelined per node): a cluster refuses one across slots.
        return list(await self._client.mget_nonatomic(list(keys)))

    def connection_counts(self) -> tuple[int, int]:
        # redis-py gives no figures of a cluster node's pool; its own adapter reads these.
        in_use = idle = 0
        for node in self._client.get_nodes():
            free = len(node._free)
            idle += free
            in_use += len(node._connections) - free
        return in_use, idle

    async def check(self) -> None:
        # Every primary, for its view of the cluster's state: a node answers PING while the
        # cluster refuses every keyed command (a node down, no replica to take its slots
        # over), and the others notice a dead node only after cluster-node-timeout.
        said: dict[str, Any] = await self._client.cluster_info(target_nodes=RedisCluster.PRIMARIES)
        infos = [said] if "cluster_state" in said else list(said.values())
        states = {info.get("cluster_state") for info in infos}
        if states != {"ok"}:
            raise ClusterUnreachable(f"cluster_state: {', '.join(map(str, states))}")
