"""Not what an open WebSocket showed: before a batch of push deliveries is sent, the ones
whose device has the member's stream open and was already sent the event the notification
was made from are not sent (``status = 'shown_live'``).

The gateway's side (``realtime.live_sockets``) keeps, per member and device, the highest seq
of the member's stream that a socket on that device was sent, alive while the socket is
(``LIVE_TTL_S`` after its last sign of life). Here a batch's records are read with one
``MGET``; a delivery made from member event seq N (``push_delivery.source_seq``) to device D
is shown live when D's record holds a seq >= N. A notification that no stream event says
(``source_seq`` NULL: points expiring, a birthday) is always sent, and so is everything when
Redis cannot be read (the safe side: a push the member may have seen, never one lost).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError

from backend.push import metrics
from db import sql
from realtime.channels import member_stream
from realtime.live_sockets import live_key, shown_seq
from realtime.redis_mode import redis_mode_of

log = logging.getLogger(__name__)

_SHOWN = "UPDATE push_delivery SET status = 'shown_live' WHERE id = ANY({ids})"


class LiveDevices:
    """The push worker's reader of the devices' open sockets."""

    def __init__(self, redis: Any, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def unshown(self, rows: Sequence[sql.Row]) -> list[sql.Row]:
        """The rows of a batch to send: those shown live are marked so (in the batch's
        transaction) and counted, not returned. Each row has ``id``, ``member`` (the
        device's owner), ``device``, ``provider`` and ``source_seq``."""
        asked = [row for row in rows if row["source_seq"] is not None]
        if not asked:
            return list(rows)
        keys = [
            live_key(self._prefix, member_stream(str(row["member"])), str(row["device"]))
            for row in asked
        ]
        try:
            values = await redis_mode_of(self._redis).read_many(keys)
        except (RedisError, OSError) as exc:
            log.warning("could not read the devices' open sockets; sending all: %r", exc)
            return list(rows)
        shown = {
            row["id"]
            for row, value in zip(asked, values, strict=True)
            if (seq := shown_seq(value)) is not None and seq >= int(row["source_seq"])
        }
        if not shown:
            return list(rows)
        await sql.fetch(_SHOWN, ids=list(shown))
        for row in rows:
            if row["id"] in shown:
                metrics.OUTCOMES.labels(provider=row["provider"], outcome="shown_live").inc()
        return [row for row in rows if row["id"] not in shown]
