"""The broadcast stream: events for every member at once (offers to all), stored once, not
once per member, with a seq of their own. A member socket follows it beside the member's
own stream and resumes it with ``broadcast_last_seq``; its envelopes say
``"stream": "broadcast"``. The table lock makes the seq gapless; broadcasts are rare.
"""

from __future__ import annotations

from typing import Any

from backend.streams.stream import Stream
from db import sql
from db.tables import BroadcastEvent
from realtime.channels import BROADCAST

_LAST_SEQ = "SELECT COALESCE(MAX(seq), 0) AS last_event_seq FROM broadcast_event"


class BroadcastStream(Stream):
    async def current_seq(self, key: Any = None) -> int:
        rows = await sql.fetch(_LAST_SEQ)
        return int(rows[0]["last_event_seq"])


BROADCASTS = BroadcastStream(
    kind=BROADCAST,
    table=BroadcastEvent,
    owner=None,
    numbered="SELECT COALESCE(MAX(seq), 0) + {event_count} AS last_event_seq FROM broadcast_event",
    lock="LOCK TABLE broadcast_event IN EXCLUSIVE MODE",
)
