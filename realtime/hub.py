"""Per-process fan-out hub: one Redis pub/sub connection shared by every local WebSocket.

Why not Litestar's channels plugin: its per-user channels keep an unbounded channel map,
subscribe/unsubscribe can race and silently drop events, and it does not reconnect to Redis.
This hub is small enough to get those three right:

* A stream's channel (a member's, a store's) is subscribed while at least one socket
  following it is connected to this process and unsubscribed when the last one leaves.
  Changes are applied under one lock from the registry's current state, so a join racing
  a leave always ends subscribed.
* Only the listener task uses the Redis connection; joins and leaves are queued for it.
* ``join`` returns only after Redis confirmed the subscription, so everything published
  afterwards reaches the subscriber.
* When the connection fails, the listener reconnects with capped exponential backoff,
  resubscribes every wanted channel, and tells each subscriber to catch up from durable
  storage (it may have missed messages while Redis was away).

On one Redis server this is classic pub/sub; on a Redis Cluster sharded pub/sub, each
channel on the node that owns its slot (``realtime.redis_mode``): the hub is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from realtime import metrics
from realtime.channels import channel as channel_of
from realtime.redis_mode import Listener, Received, redis_mode_of

log = logging.getLogger(__name__)

_SUBSCRIBE_TIMEOUT_S = 5.0
# How long the listener waits for a message before applying pending (un)subscriptions.
_POLL_S = 0.05
_PING_EVERY_S = 10.0
_BACKOFF_MAX_S = 5.0
# Never waited on while unset, so it binds to no event loop.
_CONFIRMED = asyncio.Event()
_CONFIRMED.set()


class Subscriber(Protocol):
    def deliver(self, raw: bytes) -> None:
        """Take a published envelope without blocking (the listener serves everyone)."""

    def catch_up(self) -> None:
        """Messages may have been lost: fetch what is missing from durable storage."""


class Hub:
    def __init__(self, *, redis: Redis, prefix: str) -> None:
        self._mode = redis_mode_of(redis)
        self._prefix = prefix
        # Always subscribed, never published to: redis-py's pub/sub connection exists only
        # while something is subscribed, and this one keeps it (with its pings, its health and
        # its reconnects) alive in a process that has no socket yet or none left.
        self._keepalive_channel = f"{prefix}realtime:hub"
        self._local: dict[str, set[Subscriber]] = defaultdict(set)
        self._subscribed: set[str] = set()
        self._confirmed: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()
        self._pubsub: Listener | None = None
        self._listener: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._ever_connected = False
        # Channels whose subscription the listener still has to bring in line.
        self._pending: set[str] = set()

    @property
    def healthy(self) -> bool:
        return self._connected.is_set()

    @property
    def channel_count(self) -> int:
        return len(self._subscribed)

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="realtime-hub-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._pubsub is not None:
            await self._pubsub.aclose()

    async def join(self, stream: str, subscriber: Subscriber) -> None:
        channel = channel_of(self._prefix, stream)
        self._local[channel].add(subscriber)
        await self._sync(channel)
        confirmed = self._confirmed.get(channel)
        if confirmed is not None:
            try:
                await asyncio.wait_for(confirmed.wait(), _SUBSCRIBE_TIMEOUT_S)
            except TimeoutError:
                # Redis is away; once the listener is back it resubscribes and asks every
                # subscriber to catch up, so joining now loses nothing.
                log.warning("subscription to %s not confirmed yet; continuing", channel)

    async def leave(self, stream: str, subscriber: Subscriber) -> None:
        channel = channel_of(self._prefix, stream)
        members = self._local.get(channel)
        if members is not None:
            members.discard(subscriber)
            if not members:
                del self._local[channel]
        await self._sync(channel)

    async def _sync(self, channel: str) -> None:
        """Make Redis match the registry for ``channel`` (called after every change)."""
        async with self._lock:
            wanted = channel in self._local
            if wanted == (channel in self._subscribed):
                return
            if wanted:
                self._subscribed.add(channel)
                self._confirmed[channel] = asyncio.Event()
            else:
                self._subscribed.discard(channel)
                self._confirmed.pop(channel, None)
            metrics.SUBSCRIBED_CHANNELS.set(len(self._subscribed))
            # Only the listener task talks to Redis: a command sent from here while it reads
            # would race it (and, on a dropped connection, make redis-py reconnect under it).
            self._pending.add(channel)

    async def _listen(self) -> None:
        attempt = 0
        while True:
            try:
                await self._connect()
                attempt = 0
                await self._pump()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, RuntimeError) as exc:
                # RuntimeError: redis-py's stream was used concurrently after a drop.
                self._connected.clear()
                attempt += 1
                delay = min(_BACKOFF_MAX_S, 0.1 * 2**attempt) * (0.5 + random.random() / 2)  # noqa: S311
                log.warning("realtime hub lost Redis (%s); reconnecting in %.2fs", exc, delay)
                metrics.REDIS_RECONNECTS.inc()
                await asyncio.sleep(delay)

    async def _connect(self) -> None:
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
        pubsub = await self._mode.listener()
        async with self._lock:
            channels = [self._keepalive_channel, *self._subscribed]
            for channel in self._subscribed:
                # A join may wait on a channel's event that is not set yet: kept, so that
                # this subscription's confirmation reaches it (the first connect can be
                # slower than the first join: a cluster's slot map is read first).
                waited = self._confirmed.get(channel)
                if waited is None or waited.is_set():
                    self._confirmed[channel] = asyncio.Event()
            try:
                await pubsub.subscribe(channels)
            except BaseException:
                await pubsub.aclose()
                raise
            self._pending.clear()
            self._pubsub = pubsub
            reconnected = self._ever_connected
            self._ever_connected = True
            self._connected.set()
        if reconnected:
            log.info("realtime hub listening again; %d channels catch up", len(self._local))
            for subscribers in list(self._local.values()):
                for subscriber in list(subscribers):
                    subscriber.catch_up()

    async def _pump(self) -> None:
        assert self._pubsub is not None
        pubsub = self._pubsub
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + _PING_EVERY_S
        while True:
            await self._apply_pending(pubsub)
            message = await pubsub.next_message(_POLL_S)
            if message is not None:
                self._dispatch(message)
            if loop.time() >= next_ping:
                # Detects a half-open connection that would otherwise wait forever.
                await pubsub.ping()
                next_ping = loop.time() + _PING_EVERY_S

    async def _apply_pending(self, pubsub: Listener) -> None:
        if not self._pending:  # the common case, checked without the lock on every message
            return
        async with self._lock:
            pending, self._pending = self._pending, set()
            subscribe = [c for c in pending if c in self._subscribed]
            unsubscribe = [c for c in pending if c not in self._subscribed]
        if subscribe:
            await pubsub.subscribe(subscribe)
        if unsubscribe:
            await pubsub.unsubscribe(unsubscribe)

    def _dispatch(self, message: Received) -> None:
        if message.data is None:  # Redis confirmed a subscription
            confirmed = self._confirmed.get(message.channel)
            if confirmed is not None and not confirmed.is_set():
                confirmed.set()
                # One shared event, already set, stands for every confirmed channel: no
                # Event (with its waiters' deque, ~0.8 KiB) kept per channel.
                self._confirmed[message.channel] = _CONFIRMED
            return
        for subscriber in list(self._local.get(message.channel, ())):
            subscriber.deliver(message.data)
