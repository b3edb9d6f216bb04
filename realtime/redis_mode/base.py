"""What differs between one Redis server and a Redis Cluster, as the realtime side sees it.

Everything else (the services' keys and scripts) is the same command on either: keys used
together in one command, script or MULTI share a hash tag (``{...}``), so each such command
stays inside one slot of a cluster (docs/deploy.md lists them). What cannot be the same:

- pub/sub: a cluster copies a classic ``PUBLISH`` to every node, so every node's bus carries
  every event of the chain; sharded pub/sub (``SPUBLISH``/``SSUBSCRIBE``, Redis 7.0) keeps a
  channel's messages on the node that owns its slot, and a subscriber listens to that node;
- reads of many keys (the relay's published seqs): one ``MGET`` must not cross slots;
- the figures of the client's connection pool(s).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio.client import Pipeline, PubSub
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError


@dataclass(frozen=True, slots=True)
class Received:
    """One thing a listener heard: a subscription Redis confirmed, or a published message."""

    channel: str
    data: bytes | None  # None for a confirmation


def heard(message: dict[str, Any], *, confirmed: str, published: str) -> Received | None:
    """What a raw redis-py pub/sub message says, given the mode's names for a subscription
    Redis confirmed and for a published message (classic or sharded); None for anything
    else (an unsubscribe, a pong)."""
    kind = message["type"]
    if kind not in (confirmed, published):
        return None
    return Received(
        channel=channel_of(message), data=message["data"] if kind == published else None
    )


def channel_of(message: dict[str, Any]) -> str:
    """The channel a raw pub/sub message names (bytes unless the client decodes answers)."""
    channel = message["channel"]
    return channel.decode() if isinstance(channel, bytes) else str(channel)


class Listener(Protocol):
    """One process's subscription to channels; used by one task only (the hub's listener)."""

    async def subscribe(self, channels: Sequence[str]) -> None:
        """Ask for ``channels``; each is confirmed by a ``Received`` with no data."""

    async def unsubscribe(self, channels: Sequence[str]) -> None: ...

    async def next_message(self, timeout_s: float) -> Received | None:
        """The next confirmation or message, None after ``timeout_s`` without one. Raises a
        ``RedisError`` (or OSError) when messages may have been lost: the caller then opens a
        new listener and catches up from durable storage."""

    async def ping(self) -> None:
        """Detect a half-open connection (raises as ``next_message`` does)."""

    async def aclose(self) -> None: ...


class RedisMode(Protocol):
    """How this process's Redis client publishes, listens and reads many keys."""

    def publish(self, pipe: Pipeline, channel: str, message: bytes) -> None:
        """Queue the publication of ``message`` on ``pipe`` (not a transaction)."""

    async def listener(self) -> Listener:
        """A new, empty listener."""

    async def read_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``keys`` (None where missing), in their order."""

    def connection_counts(self) -> tuple[int, int]:
        """Connections of the client's pool(s): (in use, idle)."""

    async def check(self) -> None:
        """Raise unless Redis answers commands now (readiness reports it)."""


class ReconnectWatch:
    """Tells a listener that one of its pub/sub connections connected again.

    redis-py's ``PubSub`` reconnects and resubscribes by itself when it finds its connection
    closed (a cluster client closes every connection of its nodes on ``CLUSTERDOWN``), and
    says nothing: whatever was published meanwhile is lost, and the hub would never catch up.
    Watched, such a reconnect becomes an error, and the hub catches up as after any other."""

    def __init__(self) -> None:
        self._watched: dict[int, AbstractConnection] = {}
        self._reconnected = False

    def watch(self, pubsubs: Iterable[PubSub]) -> None:
        """Watch the connections of ``pubsubs`` that are connected now (not yet watched)."""
        for pubsub in pubsubs:
            connection = pubsub.connection
            if connection is None or not connection.is_connected:
                continue  # its first connect is not a reconnect
            if id(connection) not in self._watched:
                self._watched[id(connection)] = connection
                connection.register_connect_callback(self._connected_again)

    def check(self) -> None:
        if self._reconnected:
            raise RedisConnectionError("a subscription reconnected: messages may be lost")

    def forget(self) -> None:
        for connection in self._watched.values():
            connection.deregister_connect_callback(self._connected_again)  # type: ignore[no-untyped-call]
        self._watched.clear()

    async def _connected_again(self, _: AbstractConnection) -> None:
        self._reconnected = True
