"""One kind of event stream: how its events are appended, read back and sent.

A stream is what one socket follows (``realtime.channels``): a member's, a store's, or the
broadcast stream. Its events are stored durably, each with a gapless seq of the stream, and
written in the transaction of the change they tell of; the encoded envelopes are published
after commit (a lost publish is replayed from storage, never lost).

Appending is one statement whatever the kind: a WITH item ``numbered`` moves the stream's
``last_event_seq`` on by the number of events and returns it (a member's on the account row,
a store's on the store row: writers of one stream queue on that row until commit, so the
seqs have no gaps and follow the commits), and the item ``insert`` stores the events at the
seqs below it. A statement that changes the owner anyway (the ledger's post, the store's day
figures) moves the seq itself and adds ``insert`` to its own WITH list, so the events commit
with the change in the same round trip.
"""

from __future__ import annotations

from collections.abc import Sequence, Sized
from datetime import datetime
from typing import Any

import msgspec
from piccolo.columns import Column
from piccolo.table import Table

from db import sql
from db.ids import new_id
from realtime.channels import stream_name
from realtime.protocol import EventEnvelope, encode, utc_now
from realtime.publisher import Outgoing

# (type, data) of an event to store; data None: made by the statement itself (in SQL).
Event = tuple[str, dict[str, Any] | None]


class Stream:
    def __init__(
        self,
        *,
        kind: str,
        table: type[Table],
        owner: Column | None,
        numbered: str,
        lock: str | None = None,
    ) -> None:
        """``kind``: its ``realtime.channels`` name; ``owner``: the events' column naming
        whose stream it is (None: one stream of its kind); ``numbered``: the SELECT or
        UPDATE ... RETURNING that moves the seq on by ``{event_count}`` and returns
        ``last_event_seq`` (``{event_owner}``: the owner); ``lock``: a statement to run
        before appending, when ``numbered`` locks nothing itself."""
        self.kind = kind
        self.table = table
        self.owner = owner
        self._lock = lock
        self._append = (
            f"WITH numbered AS ({numbered}), "  # noqa: S608 (the kind's fixed statements)
            + self.insert("stored", numbered="numbered")
            + " SELECT last_event_seq FROM numbered"
        )

    def name(self, key: Any = None) -> str:
        """The stream of ``key`` (a member's or store's id; None for the broadcast)."""
        return stream_name(self.kind, None if key is None else str(key))

    def insert(
        self,
        name: str,
        *,
        numbered: str,
        data: str = "e.data::jsonb",
        reads: Sequence[str] = (),
    ) -> str:
        """The WITH item ``name`` storing the events, the last of them at the
        ``last_event_seq`` that the item ``numbered`` returns; its parameters are
        ``params``'. ``data`` is the stored JSONB, made from ``e.data`` (text) and the items
        in ``reads``, without placeholders. Every name is the caller's constant."""
        table = self.table._meta.tablename
        owner_column = "" if self.owner is None else f"{self.owner._meta.db_column_name}, "
        owner_value = "" if self.owner is None else "{event_owner}, "
        sources = ", ".join((numbered, *reads))
        return f"""{name} AS (
    INSERT INTO {table} (id, {owner_column}seq, type, data, created_at)
    SELECT e.id, {owner_value}{numbered}.last_event_seq - {{event_count}} + e.n, e.type,
           {data}, {{event_at}}
    FROM {sources},
         unnest({{event_ids}}::uuid[], {{event_types}}::text[], {{event_data}}::text[])
         WITH ORDINALITY AS e(id, type, data, n)
)"""  # noqa: S608 (the kind's constant names, bound values)

    def params(self, key: Any, events: Sequence[Event], *, at: datetime) -> dict[str, Any]:
        """The parameters of ``insert``'s item (``event_*``; the events as JSON text)."""
        params: dict[str, Any] = {
            "event_count": len(events),
            "event_at": at,
            "event_ids": [new_id() for _ in events],
            "event_types": [type for type, _ in events],
            "event_data": [None if data is None else json_text(data) for _, data in events],
        }
        if self.owner is not None:
            params["event_owner"] = key
        return params

    def envelopes(
        self,
        key: Any,
        events: Sequence[Event],
        *,
        last_event_seq: int,
        at: datetime,
    ) -> list[Outgoing]:
        """The encoded events to publish after commit, from the ``last_event_seq`` the
        statement returned; every event needs its data here."""
        first = first_seq(last_event_seq, events)
        stream = self.name(key)
        return [
            (stream, self._encode(type, first + i, at, data))
            for i, (type, data) in enumerate(events)
        ]

    async def append(self, key: Any, events: Sequence[Event]) -> list[Outgoing]:
        """Store ``events`` at the stream's next seqs inside the caller's transaction;
        publish what this returns after commit."""
        if self._lock is not None:
            await sql.fetch(self._lock)
        at = utc_now()
        rows = await sql.fetch(self._append, **self.params(key, events, at=at))
        return self.envelopes(key, events, last_event_seq=rows[0]["last_event_seq"], at=at)

    async def events_after(self, key: Any, after_seq: int, *, limit: int) -> list[bytes]:
        """The stored events with seq > ``after_seq``, oldest first, encoded as first sent."""
        table: Any = self.table  # every kind's table has these columns
        where = table.seq > after_seq
        if self.owner is not None:
            where = (self.owner == key) & where
        rows = (
            await table.select(
                table.type,
                table.seq,
                table.created_at,
                table.data,
            )
            .where(where)
            .order_by(table.seq)
            .limit(limit)
            .output(load_json=True)
        )
        return [self._encode(r["type"], r["seq"], r["created_at"], r["data"]) for r in rows]

    async def current_seq(self, key: Any) -> int:
        """The seq of the stream's newest event (0: none yet, or no such owner)."""
        raise NotImplementedError

    async def current_seqs(self, keys: Sequence[Any]) -> dict[Any, int]:
        """``current_seq`` of each key; kinds with many streams read them in one query."""
        return {key: await self.current_seq(key) for key in keys}

    def _encode(self, type: str, seq: int, at: datetime, data: Any) -> bytes:
        # Envelopes of a stream of its own kind name it (a member socket follows the
        # broadcast stream beside its own); a member's or store's need not.
        label = self.kind if self.owner is None else None
        return encode(EventEnvelope(type=type, seq=seq, ts=at, data=data, stream=label))


def first_seq(last_event_seq: int, events: Sized) -> int:
    """The seq the first of ``events`` got, from the owner's ``last_event_seq`` after them."""
    return int(last_event_seq) - len(events) + 1


def json_text(data: dict[str, Any]) -> str:
    return msgspec.json.encode(data).decode()
