"""Member events: written in the ledger's transaction, published to Redis after commit.

The durable copy in ``member_event`` is what a reconnecting client resumes from; the Redis
message is only the fast path. Both carry the same encoded envelope.
"""

from __future__ import annotations

import uuid
from typing import Any

from db.tables import Account, MemberEvent
from realtime.channels import member_stream
from realtime.protocol import EventEnvelope, encode, utc_now
from realtime.publisher import Outgoing


async def append_member_event(*, member_id: uuid.UUID, type: str, data: dict[str, Any]) -> Outgoing:
    """Give the event the member's next ``seq`` and store it.

    Must run inside a transaction that holds the account row lock, which is what makes the
    seq gap-free and ordered like the commits. Returns (stream, encoded envelope).
    """
    rows = (
        await Account.update({Account.last_event_seq: Account.last_event_seq + 1})
        .where(Account.member == member_id)
        .returning(Account.last_event_seq)
    )
    envelope = EventEnvelope(type=type, seq=rows[0]["last_event_seq"], ts=utc_now(), data=data)
    await MemberEvent(
        member=member_id,
        seq=envelope.seq,
        type=envelope.type,
        data=data,
        created_at=envelope.ts,
    ).save()
    return member_stream(str(member_id)), encode(envelope)


async def events_after(member_id: uuid.UUID, after_seq: int, *, limit: int) -> list[bytes]:
    """The member's stored events with seq > ``after_seq``, oldest first, encoded."""
    rows = (
        await MemberEvent.select(
            MemberEvent.type, MemberEvent.seq, MemberEvent.created_at, MemberEvent.data
        )
        .where((MemberEvent.member == member_id) & (MemberEvent.seq > after_seq))
        .order_by(MemberEvent.seq)
        .limit(limit)
        .output(load_json=True)
    )
    return encode_stored(rows)


def encode_stored(rows: list[dict[str, Any]], *, stream: str | None = None) -> list[bytes]:
    """Stored event rows (type, seq, created_at, data) as the envelopes first sent for them."""
    return [
        encode(
            EventEnvelope(
                type=r["type"], seq=r["seq"], ts=r["created_at"], data=r["data"], stream=stream
            )
        )
        for r in rows
    ]
