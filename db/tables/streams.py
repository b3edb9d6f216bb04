"""What every table of a durable event stream has: a member's stream, a store's and the
broadcast stream are stored alike, and ``backend.streams`` reads them all the same way."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, Timestamptz, Varchar

from db.ids import new_id


class StreamEventColumns:
    """Mixed into each stream's table, before ``Table`` (Piccolo gives each table its own
    copy of these columns). ``seq`` is each table's own: numbered per member, per store, or
    once for the whole stream."""

    id = UUID(primary_key=True, default=new_id)
    type = Varchar(length=40)
    data = JSONB()
    created_at = Timestamptz()
