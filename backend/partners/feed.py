"""The feed: member-stream events, once committed, become deliveries to the endpoints that
subscribe to them. Run by the worker each round (``backend.partners.worker``, about every
second) and by the scheduler's round, so the sale's transaction writes nothing for partners
(issue #24 counts its rows).

The streams are read past each member's position (``partner_feed_position``,
``backend.deliveries.feed``): each committed event once, as soon as it is committed, one that
commits late included. Runs take ``partner_feed_mark``'s row lock in turn; a run stops after
``MAX_EVENTS`` events and the next one goes on from the positions. A delivery is unique per
(endpoint, event): reading an event again after a crash adds nothing.

Deliveries delivered more than ``KEEP_DELIVERED`` ago are purged by the scheduler's run.

Only endpoints that are enabled, or that the platform disabled after a failure run (so that
a partner who comes back gets what it missed), are fed; an admin's disabling stops the feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from backend.deliveries.feed import StreamFeed, read_streams
from backend.partners import metrics
from backend.partners.enrolments import queue_enrolments
from backend.partners.events import partner_event, payload_data
from backend.streams.stream import json_text
from db import sql
from db.ids import new_id

FEED = StreamFeed(name="partner_feed", marks="partner_feed_mark", positions="partner_feed_position")
MAX_EVENTS = 5000

_FED_ENDPOINTS = (
    "SELECT id, event_types, created_at FROM partner_endpoint "
    "WHERE enabled OR disabled_reason IS NOT NULL"
)
_ANY_ENDPOINT = "SELECT EXISTS (SELECT 1 FROM partner_endpoint) AS found"
_ENQUEUE = """
INSERT INTO partner_delivery (id, endpoint, member, seq, event, type, payload, status,
                              attempts, next_attempt_at, occurred_at, created_at)
SELECT d.id, d.endpoint, d.member, d.seq, d.event, d.type, d.payload::jsonb, 'pending', 0,
       {now}, d.occurred_at, {now}
FROM unnest({ids}::uuid[], {endpoints}::uuid[], {members}::uuid[], {seqs}::bigint[],
            {events}::uuid[], {types}::text[], {payloads}::text[], {occurred}::timestamptz[])
     AS d(id, endpoint, member, seq, event, type, payload, occurred_at)
ON CONFLICT (endpoint, event) DO NOTHING RETURNING id
"""
# Delivered long ago: the partner has them (a replay is for recent trouble). In batches, so
# that no run holds locks on a large part of the table.
KEEP_DELIVERED = timedelta(days=30)
_PURGE = """
DELETE FROM partner_delivery WHERE id = ANY(ARRAY(
    SELECT id FROM partner_delivery
    WHERE status = 'delivered' AND delivered_at < {before} LIMIT {batch}
)) RETURNING id
"""


async def feed_partners(
    *, now: datetime | None = None, limit: int = MAX_EVENTS, purge: bool = True
) -> int:
    """Queue the deliveries of the events committed since the last run; return how many.
    ``purge``: also forget long delivered ones (the scheduler's run; not every second)."""
    now = now or datetime.now(UTC)
    endpoints: list[sql.Row] = []

    async def wanted() -> bool:  # none ever registered: nothing to read
        endpoints.extend(await sql.fetch(_FED_ENDPOINTS))
        return bool((await sql.fetch(_ANY_ENDPOINT))[0]["found"])

    async def queue(rows: Sequence[sql.Row]) -> int:
        # With every endpoint disabled by an admin, the streams are still read (and the
        # positions moved), so that enabling one later sends nothing of the time between.
        queued = _deliveries(rows, endpoints)
        # Those inserted: one already there (an event read again after a crash) is not
        # counted again in the run's figure.
        inserted = len(await sql.fetch(_ENQUEUE, now=now, **queued)) if queued["ids"] else 0
        # After the streams were read, in this transaction: a member's member.enrolled (seq
        # 0) is queued no later than their first events (backend.partners.enrolments).
        return inserted + await queue_enrolments(endpoints, now=now)

    run = await read_streams(FEED, queue, now=now, limit=limit, wanted=wanted)
    metrics.FEED_LAG.set(run.behind_s)
    if purge:
        await sql.fetch(_PURGE, before=now - KEEP_DELIVERED, batch=limit)
    return run.queued


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
