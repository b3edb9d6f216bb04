"""``points.expiring`` for partners: a member's points that expire within the notice's days,
one event per member and expiry date (their local date). No stream event says it: the daily
run of the push notices (``backend.push.scheduled_kinds``) hands over the zones whose
morning it is, and this reads the lots (the durable record) the same way, for every member
of those zones with points expiring, whether or not they have a device.

Set-based: one read of the lots expiring soon (``point_lot_expiring``), the pairs already
queued left out (the delivery's event is derived from the member and the date, unique per
endpoint), at most ``limit`` pairs a run (a run cut short is gone on with by the next).
``seq`` is how far the partner feed had queued the member's stream (``partner_feed_position``):
the event comes after those, before any later one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from backend.loyalty.expiring_soon import EXPIRING_DAYS
from backend.partners.events import POINTS_EXPIRING
from backend.streams.stream import json_text
from db import sql
from db.ids import new_id

LIMIT = 5000

_SUBSCRIBED = (
    "SELECT id, created_at FROM partner_endpoint "
    "WHERE (enabled OR disabled_reason IS NOT NULL) AND {type} = ANY(event_types)"
)
# The (member, local expiry date) pairs within ``days`` days of the member's local today, not
# yet queued for every subscribed endpoint, with the points and the member's feed position.
_EXPIRING = (
    EXPIRING_DAYS  # noqa: S608 (fixed texts, bound values)
    + """
, told AS (
    SELECT d.*, md5('points.expiring:' || d.member || ':' || to_char(d.day, 'YYYY-MM-DD'))::uuid
           AS event
    FROM days d
)
SELECT t.member, t.day, t.points, t.event, COALESCE(p.seq, 0) AS seq
FROM told t LEFT JOIN partner_feed_position p ON p.member = t.member
WHERE EXISTS (SELECT 1 FROM unnest({endpoints}::uuid[]) AS e(id)
              WHERE NOT EXISTS (SELECT 1 FROM partner_delivery x
                                WHERE x.endpoint = e.id AND x.event = t.event))
ORDER BY t.member, t.day LIMIT {limit}
"""
)
_ENQUEUE = """
INSERT INTO partner_delivery (id, endpoint, member, seq, event, type, payload, status,
                              attempts, next_attempt_at, occurred_at, created_at)
SELECT d.id, d.endpoint, d.member, d.seq, d.event, {type}, d.payload::jsonb, 'pending', 0,
       {now}, {now}, {now}
FROM unnest({ids}::uuid[], {endpoints}::uuid[], {members}::uuid[], {seqs}::bigint[],
            {events}::uuid[], {payloads}::text[]) AS d(id, endpoint, member, seq, event, payload)
ON CONFLICT (endpoint, event) DO NOTHING
RETURNING id
"""


async def queue_points_expiring(
    zones: Sequence[str],
    *,
    program: str,
    now: datetime,
    days: int,
    limit: int = LIMIT,
) -> tuple[int, bool]:
    """Queue ``points.expiring`` for the members of ``zones`` (their morning) to the
    endpoints that subscribe; how many deliveries, and whether the read was complete."""
    endpoints = await sql.fetch(_SUBSCRIBED, type=POINTS_EXPIRING)
    if not endpoints or not zones:
        return 0, True
    rows = await sql.fetch(
        _EXPIRING,
        zones=list(zones),
        program=program,
        now=now,
        horizon=now + timedelta(days=days + 2),
        days=days,
        endpoints=[e["id"] for e in endpoints],
        limit=limit,
    )
    columns = _deliveries(rows, endpoints)
    queued = 0
    if columns["ids"]:
        queued = len(await sql.fetch(_ENQUEUE, type=POINTS_EXPIRING, now=now, **columns))
    return queued, len(rows) < limit


def _deliveries(rows: Sequence[sql.Row], endpoints: Sequence[sql.Row]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {
        name: [] for name in ("ids", "endpoints", "members", "seqs", "events", "payloads")
    }
    for row in rows:
        expires_on: date = row["day"]
        payload = json_text(
            {
                "member_id": str(row["member"]),
                "seq": row["seq"],
                "points": int(row["points"]),
                "expires_on": expires_on.isoformat(),
            }
        )
        for endpoint in endpoints:
            columns["ids"].append(new_id())
            columns["endpoints"].append(endpoint["id"])
            columns["members"].append(row["member"])
            columns["seqs"].append(row["seq"])
            columns["events"].append(row["event"])
            columns["payloads"].append(payload)
    return columns
