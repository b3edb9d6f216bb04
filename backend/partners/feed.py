"""The feed: member-stream events, once committed, become deliveries to the endpoints that
subscribe to them. A periodic job (``backend.jobs.scheduler``), so the sale's transaction
writes nothing for partners (issue #24 counts its rows).

A member's events commit in seq order (the account row's lock numbers them), so how far the
feed has read each member's stream is one seq (``partner_feed_position``): nothing before it
is read twice, nothing after it skipped. Which members have new events is found among the
events created since the last run, less ``SETTLE``: an event's ``created_at`` is taken before
its transaction commits, and a transaction of the platform never stays open that long. Runs
take ``partner_feed_mark``'s row lock in turn; a run stops after ``MAX_EVENTS`` events and the
next one goes on from the positions. A delivery is unique per (endpoint, event): reading an
event again after a crash adds nothing.

Deliveries delivered more than ``KEEP_DELIVERED`` ago are purged by the same run.

Only endpoints that are enabled, or that the platform disabled after a failure run (so that
a partner who comes back gets what it missed), are fed; an admin's disabling stops the feed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from backend.partners import metrics
from backend.partners.events import partner_event, payload_data
from backend.streams.stream import json_text
from db import sql
from db.ids import new_id
from db.pool import engine

MARK = "partner_feed"
SETTLE = timedelta(seconds=60)
MAX_EVENTS = 5000

_MARK = (
    "INSERT INTO partner_feed_mark (name, read_until) VALUES ({name}, {now}) "
    "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name "
    "RETURNING read_until"
)
_FED_ENDPOINTS = (
    "SELECT id, event_types, created_at FROM partner_endpoint "
    "WHERE enabled OR disabled_reason IS NOT NULL"
)
_ANY_ENDPOINT = "SELECT EXISTS (SELECT 1 FROM partner_endpoint) AS found"
# The members with events past their position, and their events, oldest first per member.
_NEW_EVENTS = """
WITH recent AS (
    SELECT member, MAX(seq) AS last_seq, MIN(seq) AS first_seq
    FROM member_event WHERE created_at > {since} GROUP BY member
), behind AS (
    SELECT r.member, COALESCE(p.seq, r.first_seq - 1) AS after
    FROM recent r LEFT JOIN partner_feed_position p ON p.member = r.member
    WHERE COALESCE(p.seq, r.first_seq - 1) < r.last_seq
)
SELECT e.id, e.member, e.seq, e.type, e.data::text AS data, e.created_at
FROM behind b JOIN member_event e ON e.member = b.member AND e.seq > b.after
ORDER BY e.member, e.seq LIMIT {limit}
"""
_ENQUEUE = """
INSERT INTO partner_delivery (id, endpoint, member, seq, event, type, payload, status,
                              attempts, next_attempt_at, occurred_at, created_at)
SELECT d.id, d.endpoint, d.member, d.seq, d.event, d.type, d.payload::jsonb, 'pending', 0,
       {now}, d.occurred_at, {now}
FROM unnest({ids}::uuid[], {endpoints}::uuid[], {members}::uuid[], {seqs}::bigint[],
            {events}::uuid[], {types}::text[], {payloads}::text[], {occurred}::timestamptz[])
     AS d(id, endpoint, member, seq, event, type, payload, occurred_at)
ON CONFLICT (endpoint, event) DO NOTHING
"""
_ADVANCE = """
INSERT INTO partner_feed_position (member, seq)
SELECT * FROM unnest({members}::uuid[], {seqs}::bigint[])
ON CONFLICT (member) DO UPDATE SET seq = GREATEST(partner_feed_position.seq, EXCLUDED.seq)
"""
_MOVE_MARK = "UPDATE partner_feed_mark SET read_until = {until} WHERE name = {name}"
# Delivered long ago: the partner has them (a replay is for recent trouble). In batches, so
# that no run holds locks on a large part of the table.
KEEP_DELIVERED = timedelta(days=30)
_PURGE = """
DELETE FROM partner_delivery WHERE id = ANY(ARRAY(
    SELECT id FROM partner_delivery
    WHERE status = 'delivered' AND delivered_at < {before} LIMIT {batch}
)) RETURNING id
"""


async def feed_partners(*, now: datetime | None = None, limit: int = MAX_EVENTS) -> int:
    """Queue the deliveries of the events committed since the last run; return how many."""
    now = now or datetime.now(UTC)
    async with engine().transaction():
        read_until = (await sql.fetch(_MARK, name=MARK, now=now))[0]["read_until"]
        endpoints = await sql.fetch(_FED_ENDPOINTS)
        if not (await sql.fetch(_ANY_ENDPOINT))[0]["found"]:  # none ever: nothing to read
            await sql.fetch(_MOVE_MARK, until=now, name=MARK)
            return 0
        # With every endpoint disabled by an admin, the streams are still read (and the
        # positions moved), so that enabling one later sends nothing of the time between.
        rows = await sql.fetch(_NEW_EVENTS, since=read_until - SETTLE, limit=limit)
        queued = _deliveries(rows, endpoints)
        if queued["ids"]:
            await sql.fetch(_ENQUEUE, now=now, **queued)
        last: dict[uuid.UUID, int] = {}
        for row in rows:
            last[row["member"]] = row["seq"]
        if last:
            await sql.fetch(_ADVANCE, members=list(last), seqs=list(last.values()))
        if len(rows) < limit:  # else the next run goes on from the positions, same window
            await sql.fetch(_MOVE_MARK, until=now, name=MARK)
            metrics.FEED_LAG.set(0.0)
        else:
            metrics.FEED_LAG.set((now - read_until).total_seconds())
    await sql.fetch(_PURGE, before=now - KEEP_DELIVERED, batch=limit)
    return len(queued["ids"])


def _deliveries(rows: Sequence[sql.Row], endpoints: Sequence[sql.Row]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {
        name: [] for name in ("ids", "endpoints", "members", "seqs", "events", "types", "payloads")
    }
    columns["occurred"] = []
    for row in rows:
        data = _object(row["data"])
        kind = partner_event(row["type"], data)
        if kind is None:
            continue
        payload = json_text(
            {"member_id": str(row["member"]), "seq": row["seq"], **payload_data(data)}
        )
        for endpoint in endpoints:
            # An endpoint hears of what happened after it was registered.
            if kind not in endpoint["event_types"] or row["created_at"] < endpoint["created_at"]:
                continue
            for name, value in (
                ("ids", new_id()),
                ("endpoints", endpoint["id"]),
                ("members", row["member"]),
                ("seqs", row["seq"]),
                ("events", row["id"]),
                ("types", kind),
                ("payloads", payload),
                ("occurred", row["created_at"]),
            ):
                columns[name].append(value)
    return columns


def _object(text: str) -> dict[str, Any]:
    value = msgspec.json.decode(text)
    return value if isinstance(value, dict) else {}
