"""Which devices have their member's stream open, and how far each has been sent it: so that
push does not tell a device what its open socket already showed (docs/notifications.md,
"Not what an open WebSocket showed").

A member socket that names its device (``/v1/ws?device=<id>``) records, in Redis under
``<prefix>live:member:<member id>:<device id>``, the highest seq of the member's own stream it
has sent (or the client said it had, on connect or resume; never the seq that ``ready`` or a
resync only names), with a time to live of ``ttl_s``. The record is written after a batch of sends
drains (one ``SET`` for the batch, not one per event) and refreshed by the answer to the
client's ping (clients ping after 20 s of quiet) when it is older than ``refresh_s``: an open
socket keeps it alive, a socket that closed or died is forgotten ``ttl_s`` after its last
sign of life. The push worker reads the records of a batch's devices with one ``MGET``
(``backend.push.live_sockets``).

Cost, sockets being the hot path: a socket that names no device pays one empty slot of its
follower; one that does, a ``LiveMark`` (its key and three numbers, ~0.25 KiB against the
~28 KiB of an idle socket, docs/performance.md). Writes never block the socket's sends: at
most one write per socket is in flight, in a task that exists only while it writes, and
writes the newest seq when it ends; a Redis failure only loses the record (the device is
then pushed: the safe side).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import KW_ONLY, dataclass
from typing import Any

from redis.exceptions import RedisError

from realtime import metrics

log = logging.getLogger(__name__)

# Clients ping after 20 s of quiet (backend/web/static/js/stream.js): a refresh on every
# ping, and a record outlives two missed pings.
LIVE_TTL_S = 60
REFRESH_S = 15.0


def live_key(prefix: str, stream: str, device: str) -> str:
    """The record of ``device``'s socket on ``stream`` (a member's stream)."""
    return f"{prefix}live:{stream}:{device}"


def shown_seq(value: bytes | str | None) -> int | None:
    """The seq a record holds (None: no open socket, or not a record)."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


@dataclass(slots=True, eq=False)
class LiveSockets:
    """The gateway's side: makes each naming socket's ``LiveMark``."""

    redis: Any
    _: KW_ONLY
    prefix: str
    ttl_s: float = LIVE_TTL_S
    refresh_s: float = REFRESH_S

    def mark(self, stream: str, device: str) -> LiveMark:
        return LiveMark(self, live_key(self.prefix, stream, device))


class LiveMark:
    """One socket's record: what it has sent (``sent``) and what Redis holds (``written``)."""

    __slots__ = ("_task", "key", "owner", "sent", "written", "written_at")

    def __init__(self, owner: LiveSockets, key: str) -> None:
        self.owner = owner
        self.key = key
        self.sent = 0
        self.written = -1
        self.written_at = float("-inf")
        self._task: asyncio.Future[None] | None = None

    def saw(self, seq: int) -> None:
        """The client has the member's stream up to ``seq`` (sent it, or it said so on
        connect or resume); written at the next ``drained``."""
        self.sent = max(self.sent, seq)

    def drained(self) -> None:
        """The socket's sends drained (a batch of events, a ping's answer)."""
        self.shown(self.sent)

    def shown(self, seq: int) -> None:
        """The socket has sent its stream up to ``seq`` (or answered a ping): write it if it
        moved on or the record is due a refresh. Never blocks."""
        self.sent = max(self.sent, seq)
        if self._task is not None:
            return  # the write in flight writes the newest seq before it ends
        stale = time.monotonic() - self.written_at >= self.owner.refresh_s
        if self.sent > self.written or stale:
            self._task = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        try:
            while True:
                seq = self.sent
                await self.owner.redis.set(self.key, seq, px=int(self.owner.ttl_s * 1000))
                self.written, self.written_at = seq, time.monotonic()
                if self.sent <= seq:
                    return
        except (RedisError, OSError) as exc:
            # The record is lost until the next write: the device is pushed meanwhile.
            metrics.LIVE_MARKS_FAILED.inc()
            log.debug("could not record a live socket: %r", exc)
        finally:
            self._task = None
