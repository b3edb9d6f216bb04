"""The store stream staff dashboards follow: each sale, and the store's figures for today.

Written in the sale's transaction like member events (the store row's ``last_event_seq``
gives the gapless seq, so sales in one store serialize on that row until commit), published
after commit. Days are UTC days.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from typing import Any

from backend.loyalty.events import encode_stored
from db.tables import Store, StoreEvent
from realtime.channels import store_stream
from realtime.protocol import EventEnvelope, encode, utc_now
from realtime.publisher import Outgoing

_TODAY = """
SELECT COUNT(*)::bigint AS sales,
       COALESCE(SUM(paid_amount), 0)::bigint AS sales_amount,
       COALESCE(SUM(points_earned), 0)::bigint AS points_earned,
       COALESCE(SUM(points_redeemed), 0)::bigint AS points_redeemed,
       COALESCE(SUM(points_reversed), 0)::bigint AS points_reversed,
       COALESCE(SUM(refunded_amount * paid_amount / amount), 0)::bigint AS refunded_amount,
       COUNT(DISTINCT p.member)::bigint AS active_members,
       COUNT(DISTINCT p.member) FILTER (WHERE m.created_at >= {})::bigint AS new_members
FROM purchase p JOIN member m ON m.id = p.member
WHERE p.store = {} AND p.created_at >= {}
"""


async def append_store_event(*, store_id: uuid.UUID, type: str, data: dict[str, Any]) -> Outgoing:
    rows = (
        await Store.update({Store.last_event_seq: Store.last_event_seq + 1})
        .where(Store.id == store_id)
        .returning(Store.last_event_seq)
    )
    envelope = EventEnvelope(type=type, seq=rows[0]["last_event_seq"], ts=utc_now(), data=data)
    await StoreEvent(
        store=store_id, seq=envelope.seq, type=type, data=data, created_at=envelope.ts
    ).save()
    return store_stream(str(store_id)), encode(envelope)


async def todays_figures(store_id: uuid.UUID, *, now: datetime) -> dict[str, Any]:
    start = datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
    row = (await Store.raw(_TODAY, start, store_id, start))[0]
    return {"store_id": str(store_id), "day": start.date().isoformat(), **dict(row)}


async def record_store_activity(
    *, store_id: uuid.UUID, sale: dict[str, Any] | None, now: datetime
) -> list[Outgoing]:
    """``sale.completed`` (when there is a sale) and ``stats.updated`` for the store."""
    events = []
    if sale is not None:
        events.append(await append_store_event(store_id=store_id, type="sale.completed", data=sale))
    figures = await todays_figures(store_id, now=now)
    events.append(await append_store_event(store_id=store_id, type="stats.updated", data=figures))
    return events


async def store_events_after(store_id: uuid.UUID, after_seq: int, *, limit: int) -> list[bytes]:
    rows = (
        await StoreEvent.select(
            StoreEvent.type, StoreEvent.seq, StoreEvent.created_at, StoreEvent.data
        )
        .where((StoreEvent.store == store_id) & (StoreEvent.seq > after_seq))
        .order_by(StoreEvent.seq)
        .limit(limit)
        .output(load_json=True)
    )
    return encode_stored(rows)
