"""Events appended to a gapless stream (a member's, a store's) by the statement that causes them.

The stream's owner row keeps ``last_event_seq``. The statement that changes the owner also
moves that seq on by the number of events (``last_event_seq = last_event_seq + {event_count}``
in its UPDATE, which returns it) and inserts the events with ``insert_events``: the events
commit with the change they tell of, in the same round trip, and writers of one stream queue
on the owner's row until commit, so the seqs have no gaps. The parameters of the item are
``event_params``' names (``event_*``), so a statement inserts into one stream.
"""

from __future__ import annotations

from collections.abc import Sequence, Sized
from datetime import datetime
from typing import Any

from db.ids import new_id


def insert_events(
    name: str,
    *,
    table: str,
    owner: str,
    numbered: str,
    data: str = "e.data::jsonb",
    reads: Sequence[str] = (),
) -> str:
    """The WITH item ``name`` inserting the events into ``table``, the last of them at the
    ``last_event_seq`` that the item ``numbered`` returns; its parameters are
    ``event_params``. ``data`` is the stored JSONB, made from ``e.data`` (text) and the items in
    ``reads``, without placeholders. Every name is the caller's constant, never a value.
    """
    sources = ", ".join((numbered, *reads))
    return f"""{name} AS (
    INSERT INTO {table} (id, {owner}, seq, type, data, created_at)
    SELECT e.id, {{event_owner}}, {numbered}.last_event_seq - {{event_count}} + e.n, e.type,
           {data}, {{event_at}}
    FROM {sources},
         unnest({{event_ids}}::uuid[], {{event_types}}::text[], {{event_data}}::text[])
         WITH ORDINALITY AS e(id, type, data, n)
)"""  # noqa: S608 (the caller's constant names, bound values)


def event_params(
    owner_id: Any, events: Sequence[tuple[str, str | None]], *, at: datetime
) -> dict[str, Any]:
    """The parameters of ``insert_events``' item; ``events`` are (type, JSON text)."""
    return {
        "event_owner": owner_id,
        "event_count": len(events),
        "event_at": at,
        "event_ids": [new_id() for _ in events],
        "event_types": [type for type, _ in events],
        "event_data": [data for _, data in events],
    }


def first_seq(last_event_seq: int, events: Sized) -> int:
    """The seq the first of ``events`` got, from the owner's ``last_event_seq`` after them."""
    return int(last_event_seq) - len(events) + 1
