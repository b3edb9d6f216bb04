"""Publish committed events to Redis, for the hubs of every process to fan out."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from realtime import metrics
from realtime.channels import channel
from realtime.protocol import envelope_seq, envelope_time
from realtime.redis_mode import redis_mode_of

log = logging.getLogger(__name__)

# An encoded event envelope and the stream it belongs to ("member:<id>", "store:<id>").
Outgoing = tuple[str, bytes]

# How long the newest published seq of a member is remembered, for the relay to compare.
PUBLISHED_TTL_S = 300
# How long the relay's last pass is remembered (past it, the relay reads its whole window).
RELAYED_TTL_S = 3600
# Keys per MGET when the relay asks what was published: a bounded command whatever the chain's size.
MGET_CHUNK = 500
# Events per pipeline: a campaign's batch of thousands of members goes out in pipelines of
# this many PUBLISHes (and as many seq updates), so neither side buffers a batch at once.
PUBLISH_CHUNK = 500
_REMEMBER_MAX = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else redis.call('EXPIRE', KEYS[1], ARGV[2]) end
"""


# Sent by SHA (EVALSHA): EVAL would send, and Redis hash, the script's text on every sale.
_REMEMBER_MAX_SHA = hashlib.sha1(_REMEMBER_MAX.encode()).hexdigest()  # noqa: S324 - Redis's id


class EventPublisher:
    def __init__(self, *, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._mode = redis_mode_of(redis)
        self._prefix = prefix
        self._relayed_key = f"{prefix}relayed-until"

    def _published_key(self, member_id: str) -> str:
        return f"{self._prefix}published-seq:{member_id}"

    async def relayed_until(self) -> datetime | None:
        """When the relay's last complete pass began (None: not remembered, or Redis could
        not say: the relay then reads its whole window, which only costs more)."""
        try:
            value = await self._redis.get(self._relayed_key)
        except (RedisError, OSError):
            return None
        if not value:
            return None
        return datetime.fromisoformat(value.decode() if isinstance(value, bytes) else value)

    async def remember_relayed(self, until: datetime) -> None:
        """The relay's pass that began at ``until`` published everything it found."""
        try:
            await self._redis.set(self._relayed_key, until.isoformat(), ex=RELAYED_TTL_S)
        except (RedisError, OSError) as exc:
            log.warning("remembering the relay's pass failed: %s", exc)

    async def publish(self, events: list[Outgoing]) -> bool:
        """Publish each stream's events in order; return False if Redis could not take them.

        A failure loses nothing: the events are already committed; the relay republishes
        member events, and the gateway fills any gap a client sees from PostgreSQL.
        """
        for start in range(0, len(events), PUBLISH_CHUNK):
            if not await self._publish_chunk(events[start : start + PUBLISH_CHUNK]):
                return False
        return True

    async def _publish_chunk(self, events: list[Outgoing]) -> bool:
        """``publish`` of at most ``PUBLISH_CHUNK`` events, in one pipeline."""
        newest: dict[str, int] = {}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for stream, envelope in events:
                    # PUBLISH, or SPUBLISH on a cluster (realtime.redis_mode).
                    self._mode.publish(pipe, channel(self._prefix, stream), envelope)
                    if stream.startswith("member:"):
                        newest[stream.removeprefix("member:")] = envelope_seq(envelope)
                for member_id, seq in newest.items():
                    # As a plain command: a cluster's pipeline refuses ``evalsha()`` by name,
                    # though it routes EVALSHA by its key like any other command.
                    pipe.execute_command(
                        "EVALSHA",
                        _REMEMBER_MAX_SHA,
                        1,
                        self._published_key(member_id),
                        seq,
                        PUBLISHED_TTL_S,
                    )
                await pipe.execute()
        except NoScriptError:
            # Redis does not know the script yet (or restarted): the events went out; remember
            # their seqs with the script's text, which loads it for the next sale.
            if not await self._remember_by_text(newest):
                return False
        except (RedisError, OSError) as exc:
            log.warning("publishing %d event(s) failed: %s", len(events), exc)
            metrics.PUBLISH_FAILURES.inc()
            return False
        # One sample per batch: its events were committed together (or relayed together).
        lag = datetime.now(UTC) - envelope_time(events[0][1])
        metrics.PUBLISH_LAG.observe(max(lag.total_seconds(), 0.0))
        return True

    async def _remember_by_text(self, newest: dict[str, int]) -> bool:
        try:
            for member_id, seq in newest.items():
                await self._redis.eval(
                    _REMEMBER_MAX, 1, self._published_key(member_id), seq, PUBLISHED_TTL_S
                )
        except (RedisError, OSError) as exc:
            log.warning("remembering published seqs failed: %s", exc)
            return False
        return True

    async def published_seqs(self, member_ids: list[str]) -> dict[str, int | None]:
        """The newest seq published recently for each member (None: none remembered).

        Asked in chunks: one MGET of every recently active member's key (tens of thousands at
        a large chain's peak) would hold Redis, and every client of it, for that long."""
        found: dict[str, int | None] = {}
        for start in range(0, len(member_ids), MGET_CHUNK):
            chunk = member_ids[start : start + MGET_CHUNK]
            values = await self._mode.read_many([self._published_key(m) for m in chunk])
            found.update(
                (m, int(v) if v is not None else None) for m, v in zip(chunk, values, strict=True)
            )
        return found
