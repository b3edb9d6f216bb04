"""A store's stream: each sale (``sale.completed``) and the store's figures of the day
(``stats.updated``), followed by its staff's dashboards.

The seq is ``store.last_event_seq``: the statement that moves the store's day figures
(``backend.stores.figures``) moves it and adds ``STORES.insert`` to its WITH list, so sales
in one store serialize on that row only from there to the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backend.streams.stream import Stream
from db.tables import Store, StoreEvent
from realtime.channels import STORE


class StoreStream(Stream):
    async def current_seq(self, key: Any) -> int:
        row = await Store.select(Store.last_event_seq).where(Store.id == key).first()
        return 0 if row is None else int(row["last_event_seq"])

    async def current_seqs(self, keys: Sequence[Any]) -> dict[Any, int]:
        rows = await Store.select(Store.id, Store.last_event_seq).where(Store.id.is_in(list(keys)))
        found = {row["id"]: int(row["last_event_seq"]) for row in rows}
        return {key: found.get(key, 0) for key in keys}


STORES = StoreStream(
    kind=STORE,
    table=StoreEvent,
    owner=StoreEvent.store,
    numbered="UPDATE store SET last_event_seq = last_event_seq + {event_count} "
    "WHERE id = {event_owner} RETURNING last_event_seq",
)
