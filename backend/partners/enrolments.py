"""``member.enrolled`` for partners, read from the member table: the row enrolment commits is
the durable record of it. No member-stream event says it (writing one in every enrolment
would move every member's seqs, which phones resume from and many places count on).

Called by the partner feed inside its transaction, after it read the streams
(``queue_enrolments``): a member whose first stream events that read saw has committed, so
this read sees them too, and their ``member.enrolled`` (``seq`` 0, before any stream event)
is queued in the same transaction as those events: a partner gets it first.

Read by ``created_at`` (``member_enrolled`` index) past this feed's mark
(``partner_feed_mark`` row ``partner_enrolments``) less ``MARGIN``; as the stream feed does
(``backend.deliveries.feed``), the mark never passes the start of the oldest transaction
still open that has written (``open_writers``), so an enrolment committing late is still in
the next window.
The delivery's event is the member's id: unique per (endpoint, event), so reading a member
again queues nothing twice. Only endpoints subscribed to ``member.enrolled`` and registered
before the enrolment are fed; with none, nothing is read and the mark moves on.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from backend.deliveries.feed import open_writers
from backend.partners.events import MEMBER_ENROLLED
from backend.streams.stream import json_text
from db import sql
from db.ids import new_id

MARK = "partner_enrolments"
MARGIN = timedelta(seconds=15)
PAGE = 5000

_MARK = (
    "INSERT INTO partner_feed_mark (name, read_until) VALUES ({name}, {now}) "
    "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING read_until"
)
_MOVE_MARK = "UPDATE partner_feed_mark SET read_until = {until} WHERE name = {name}"
# Enrolled in the window, a page at a time in (created_at, id) order.
_ENROLLED = """
SELECT id, created_at FROM member
WHERE created_at > {since} AND (created_at, id) > ({after_at}::timestamptz, {after_id}::uuid)
ORDER BY created_at, id LIMIT {page}
"""
_ENQUEUE = """
INSERT INTO partner_delivery (id, endpoint, member, seq, event, type, payload, status,
                              attempts, next_attempt_at, occurred_at, created_at)
SELECT d.id, d.endpoint, d.member, 0, d.member, {type}, d.payload::jsonb, 'pending', 0,
       {now}, d.occurred_at, {now}
FROM unnest({ids}::uuid[], {endpoints}::uuid[], {members}::uuid[], {payloads}::text[],
            {occurred}::timestamptz[]) AS d(id, endpoint, member, payload, occurred_at)
ON CONFLICT (endpoint, event) DO NOTHING
RETURNING id
"""


async def queue_enrolments(endpoints: Sequence[sql.Row], *, now: datetime) -> int:
    """Queue ``member.enrolled`` for the members enrolled since the last run, to the
    ``endpoints`` (rows with ``id``, ``event_types``, ``created_at``) that subscribe; run
    inside the caller's transaction. How many deliveries were queued."""
    (mark,) = await sql.fetch(_MARK, name=MARK, now=now)
    until = (await open_writers(now)).until(mark["read_until"])
    subscribed = [e for e in endpoints if MEMBER_ENROLLED in e["event_types"]]
    queued = 0
    since = mark["read_until"] - MARGIN
    after_at, after_id = since, uuid.UUID(int=0)
    while subscribed:
        members = await sql.fetch(
            _ENROLLED,
            since=since,
            after_at=after_at,
            after_id=after_id,
            page=PAGE,
        )
        columns = _deliveries(members, subscribed)
        if columns["ids"]:
            queued += len(await sql.fetch(_ENQUEUE, type=MEMBER_ENROLLED, now=now, **columns))
        if len(members) < PAGE:
            break
        after_at, after_id = members[-1]["created_at"], members[-1]["id"]
    await sql.fetch(_MOVE_MARK, name=MARK, until=until)
    return queued


def _deliveries(members: Sequence[sql.Row], endpoints: Sequence[sql.Row]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {
        name: [] for name in ("ids", "endpoints", "members", "payloads", "occurred")
    }
    for member in members:
        # Ids only: personal data is added when sent, to endpoints allowed it.
        payload = json_text({"member_id": str(member["id"]), "seq": 0})
        for endpoint in endpoints:
            if member["created_at"] < endpoint["created_at"]:
                continue  # an endpoint hears of what happened after it was registered
            columns["ids"].append(new_id())
            columns["endpoints"].append(endpoint["id"])
            columns["members"].append(member["id"])
            columns["payloads"].append(payload)
            columns["occurred"].append(member["created_at"])
    return columns
