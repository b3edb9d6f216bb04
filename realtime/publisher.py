"""Publish committed events to Redis, for the hubs of every process to fan out."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from realtime.channels import member_channel

log = logging.getLogger(__name__)


class EventPublisher:
    def __init__(self, *, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def publish_member_events(self, member_id: str, envelopes: list[bytes]) -> bool:
        """Publish in order; return False if Redis could not take them.

        A failure loses nothing: the events are already committed, and clients catch up by
        resuming from their last seq (the hub also replays when it notices a gap).
        """
        channel = member_channel(self._prefix, member_id)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for envelope in envelopes:
                    pipe.publish(channel, envelope)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning(
                "publishing %d event(s) for member %s failed: %s", len(envelopes), member_id, exc
            )
            return False
        return True
