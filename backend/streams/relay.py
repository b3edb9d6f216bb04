"""Republish member events that were committed but never published.

The purchase path publishes right after commit; a process killed between the two, or a
Redis blip, leaves events only in PostgreSQL. Connected clients would still get them (the
gateway replays a gap when the next event arrives), but a member with no next event would
wait. The relay compares each recently active member's newest stored seq with the newest
seq the publisher remembers and publishes the difference. Republishing is harmless: clients
drop seqs they already have.

Each pass reads the events created since the previous complete pass began, less ``MARGIN``
(an event's time is taken before its transaction commits, and the processes' clocks
differ), and at most ``WINDOW``: with a pass every 30 s that is 45 s of events, not 120. Every
pass aggregated all 120 s of a busy chain's events (60,000 rows at ~500 events a second,
40-110 ms of one PostgreSQL CPU), and the sales and pushes of that moment waited behind
it: the load test's late pushes came in bursts at the maintenance round (issue #24).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.streams.member import MEMBERS
from db import sql
from realtime.publisher import EventPublisher

WINDOW = timedelta(seconds=120)
MARGIN = timedelta(seconds=15)

_RECENT = """
SELECT member, MAX(seq) AS seq, MIN(seq) AS first_seq
FROM member_event WHERE created_at > {since} GROUP BY member
"""


async def relay_unpublished(publisher: EventPublisher, *, now: datetime) -> int:
    """Publish what is missing; return how many events were republished."""
    since = now - WINDOW
    previous = await publisher.relayed_until()
    if previous is not None:
        since = max(since, min(previous, now) - MARGIN)
    rows = await sql.fetch(_RECENT, since=since)
    published = await publisher.published_seqs([str(r["member"]) for r in rows])
    relayed = 0
    complete = True
    for row in rows:
        member = str(row["member"])
        after = published[member]
        if after is None:
            after = int(row["first_seq"]) - 1  # nothing remembered: the whole window
        if int(row["seq"]) <= after:
            continue
        events = await MEMBERS.events_after(row["member"], after, limit=1000)
        if await publisher.publish([(MEMBERS.name(member), event) for event in events]):
            relayed += len(events)
        else:
            complete = False  # Redis did not take them: the next pass reads them again
    if complete:
        await publisher.remember_relayed(now)
    return relayed
