"""Reading the member streams for a feed (push, partner webhooks): each committed event once,
as soon as it is committed, a late-committing one included.

A member's events commit in seq order (the account row's lock numbers them), so how far a
feed has read a member's stream is one seq, its position (``push_feed_position``,
``partner_feed_position``): nothing at or before it is read again, nothing after it skipped.

Which members have new events is found among the events created since the feed's mark less
``MARGIN``. An event's ``created_at`` is taken before its transaction commits, so an event
may commit after a later one was read; the mark therefore never passes the start of the
oldest transaction still open that has written (``pg_stat_activity``): an event not yet
committed at a run belongs to such a transaction, so the next run's window still holds it.
``MARGIN`` covers what that cannot see: an event's time taken before its transaction's first
write, and the application's clock against the database's (seconds at most). The window is
not a wait: an event is read by the first run after its commit.

A role without ``pg_read_all_stats`` sees another role's sessions in ``pg_stat_activity``
(their ``backend_xid``) but not their ``xact_start``: such a writer's start is unknown, so a
run that sees one leaves the mark where it is (the window keeps whatever it is writing) and
logs a warning; the mark moves on at the next run that sees none (docs/deploy.md).

Runs of one feed (several workers, the scheduler) take the mark's row lock in turn. A run
stops after ``limit`` events, at a member's boundary (a sale's entries are read together), and
the next one goes on from the positions.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from db import sql
from db.pool import engine

log = logging.getLogger(__name__)

MARGIN = timedelta(seconds=15)
# A hidden writer is logged at most this often by a process (when the next warning is due).
WARN_EVERY_S = 60.0
_warned = [float("-inf")]

# The oldest open transaction of this database that has written (it has a transaction id),
# and whether a writer's start is hidden from this role (another role's session, no
# pg_read_all_stats: its backend_xid is shown to everyone, its xact_start is not).
_OLDEST_WRITER = """
SELECT MIN(xact_start) AS at, COALESCE(bool_or(xact_start IS NULL), false) AS hidden
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL
"""

Positions = Literal["push_feed_position", "partner_feed_position"]
Marks = Literal["push_feed_mark", "partner_feed_mark"]


# The members a feed is for, when not every member: ``None``, or a fixed subquery.
Audience = Literal["SELECT member FROM member_device"] | None


@dataclass(frozen=True, slots=True)
class StreamFeed:
    """A feed's mark (``marks``'s row ``name``) and its members' positions; ``audience``:
    the members it reads for (``None``: all)."""

    name: str
    marks: Marks
    positions: Positions
    audience: Audience = None
    statements: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        statements = _statements(self.marks, self.positions, self.audience)
        object.__setattr__(self, "statements", statements)


def _statements(marks: Marks, positions: Positions, audience: Audience) -> dict[str, str]:
    """The feed's statements: the tables are one of the two feeds' own (``Marks``,
    ``Positions``), the audience a fixed subquery (``Audience``), every value a bound
    parameter.

    A feed with an audience reads and moves only its members' positions: the push feed
    read every member's events (most of a chain's, members without a device included), in
    pages of ``limit`` that each aggregated the window again, and moved as many positions,
    to queue the few with a device (issue #24). A member joining the audience has their
    position set where the feed is to start for them (``backend.push.devices``)."""
    among = f" AND member IN ({audience})" if audience else ""
    return {
        "mark": (
            f"INSERT INTO {marks} (name, read_until) VALUES ({{name}}, {{now}}) "  # noqa: S608
            "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING read_until"
        ),
        "move": f"UPDATE {marks} SET read_until = {{until}} WHERE name = {{name}}",  # noqa: S608
        # The members with events past their position, and their events, oldest first per
        # member (a member first seen starts at the window's first event).
        "new": f"""
WITH recent AS (
    SELECT member, MAX(seq) AS last_seq, MIN(seq) AS first_seq
    FROM member_event WHERE created_at > {{since}}{among} GROUP BY member
), behind AS (
    SELECT r.member, COALESCE(p.seq, r.first_seq - 1) AS after
    FROM recent r LEFT JOIN {positions} p ON p.member = r.member
    WHERE COALESCE(p.seq, r.first_seq - 1) < r.last_seq
)
SELECT e.id, e.member, e.seq, e.type, e.data::text AS data, e.created_at
FROM behind b JOIN member_event e ON e.member = b.member AND e.seq > b.after
ORDER BY e.member, e.seq LIMIT {{limit}}
""",  # noqa: S608
        "advance": f"""
INSERT INTO {positions} (member, seq)
SELECT * FROM unnest({{members}}::uuid[], {{seqs}}::bigint[])
ON CONFLICT (member) DO UPDATE SET seq = GREATEST({positions}.seq, EXCLUDED.seq)
""",  # noqa: S608
    }


@dataclass(frozen=True, slots=True)
class Writers:
    """Where a feed's mark may go this run: ``bound``, the run's clock or the start of the
    oldest open writing transaction if earlier; ``hidden``: a writer's start is not shown
    to this role, so the mark must stay where it is."""

    bound: datetime
    hidden: bool

    def until(self, mark: datetime) -> datetime:
        """The mark's next value, ``mark`` its value now."""
        return mark if self.hidden else self.bound


async def open_writers(now: datetime) -> Writers:
    """The open writing transactions' hold on a feed's mark (read in the run's transaction)."""
    (writer,) = await sql.fetch(_OLDEST_WRITER)
    bound = now if writer["at"] is None else min(now, writer["at"])
    if writer["hidden"] and time.monotonic() >= _warned[0]:
        _warned[0] = time.monotonic() + WARN_EVERY_S  # feeds run every second: not each run
        log.warning(
            "a writing transaction's start is hidden from this role (grant it "
            "pg_read_all_stats): the delivery feeds' marks wait until none is open"
        )
    return Writers(bound, bool(writer["hidden"]))


@dataclass(frozen=True, slots=True)
class FeedRun:
    queued: int
    behind_s: float  # how far the window's start was behind (0: caught up)
    full: bool = False  # stopped at its limit: a run right after it has more to read


async def read_streams(
    feed: StreamFeed,
    queue: Callable[[Sequence[sql.Row]], Awaitable[int]],
    *,
    now: datetime,
    limit: int,
    wanted: Callable[[], Awaitable[bool]] | None = None,
) -> FeedRun:
    """Hand ``queue`` the events committed past the positions (in one transaction with the
    positions' move, so a crash reads them again and the kind's unique keys queue nothing
    twice); ``wanted`` False: nothing to read for (no partner endpoint), the mark moves on."""
    said = feed.statements
    async with engine().transaction():
        await sql.plan_each_run()  # "new" reads a window of a growing table
        writers = await open_writers(now)
        # First run: made at the bound.
        (mark,) = await sql.fetch(said["mark"], name=feed.name, now=writers.bound)
        until = writers.until(mark["read_until"])
        if wanted is not None and not await wanted():
            await sql.fetch(said["move"], name=feed.name, until=until)
            return FeedRun(0, 0.0)
        rows = list(await sql.fetch(said["new"], since=mark["read_until"] - MARGIN, limit=limit))
        full = len(rows) >= limit
        if full and rows[0]["member"] != rows[-1]["member"]:
            last = rows[-1]["member"]  # whole members only: the last one goes on next run
            rows = [row for row in rows if row["member"] != last]
        queued = await queue(rows)
        positions: dict[uuid.UUID, int] = {row["member"]: row["seq"] for row in rows}
        if positions:
            await sql.fetch(said["advance"], members=list(positions), seqs=list(positions.values()))
        if full:  # the next run goes on from the positions, over the same window
            return FeedRun(queued, (now - mark["read_until"]).total_seconds(), full=True)
        await sql.fetch(said["move"], name=feed.name, until=until)
    return FeedRun(queued, 0.0)
