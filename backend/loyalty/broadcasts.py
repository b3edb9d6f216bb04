"""Broadcast events: one stored event that every connected member receives (offers to all).

Stored once, not once per member, with a seq of their own (``broadcast`` stream); a member
socket follows it beside the member's own stream, and resumes it with
``broadcast_last_seq``. The table lock makes the seq gapless; broadcasts are rare.
"""

from __future__ import annotations

from typing import Any

from backend.loyalty.events import encode_stored
from db import sql
from db.tables import BroadcastEvent
from realtime.channels import BROADCAST
from realtime.protocol import EventEnvelope, encode, utc_now
from realtime.publisher import Outgoing


async def append_broadcast_event(*, type: str, data: dict[str, Any]) -> Outgoing:
    """Store the next broadcast event; call inside a transaction, publish after commit."""
    await sql.fetch("LOCK TABLE broadcast_event IN EXCLUSIVE MODE")
    seq = await broadcast_seq() + 1
    envelope = EventEnvelope(type=type, seq=seq, ts=utc_now(), data=data, stream=BROADCAST)
    await BroadcastEvent(seq=seq, type=type, data=data, created_at=envelope.ts).save()
    return BROADCAST, encode(envelope)


async def broadcast_seq() -> int:
    rows = await sql.fetch("SELECT COALESCE(MAX(seq), 0) AS seq FROM broadcast_event")
    return int(rows[0]["seq"])


async def broadcast_events_after(after_seq: int, *, limit: int) -> list[bytes]:
    rows = (
        await BroadcastEvent.select(
            BroadcastEvent.type, BroadcastEvent.seq, BroadcastEvent.created_at, BroadcastEvent.data
        )
        .where(BroadcastEvent.seq > after_seq)
        .order_by(BroadcastEvent.seq)
        .limit(limit)
        .output(load_json=True)
    )
    return encode_stored(rows, stream=BROADCAST)
