"""The daily cap: at most ``ASTROCOFFEE_PUSH_DAILY_CAP`` (``Settings.push_daily_cap``,
default ``DAILY_CAP``) notifications a member's local day. One over the cap
waits for the next local day (and that day's quiet hours), never dropped. A sale update does
not pile up: it replaces the member's older undelivered ones, saying their points together.

The push feed and the daily notices queue in transactions of their own and both count the
member's day: a transaction-level advisory lock on the member (``lock_member_day``), taken
before counting and held until commit, makes counting and queueing one step per member, so
two at once never make one over the cap. Without deadlocks: the feed (its runs one at a time,
under the mark's row lock) waits for the lock; the daily notices only try it and leave a
member they cannot have to their next run.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.local_time import instant_of, local_date
from backend.push.quiet_hours import QuietHours
from db import sql

DAILY_CAP = 5
# Beyond this many days ahead a notification waits no longer (a backlog this deep is a fault
# to see in the queue's metrics, not a reason to hold a push for weeks).
MAX_DAYS_AHEAD = 7

# Notifications (one per collapse key, whatever the devices) on a day: those delivered that
# day and those waiting for it; another one's own key is not counted (queueing it again).
_ON_DAY = """
SELECT count(DISTINCT collapse_key) AS n FROM push_delivery
WHERE member = {member_id} AND status IN ('pending', 'delivered')
  AND collapse_key <> {collapse_key}
  AND COALESCE(delivered_at, next_attempt_at) >= {start}
  AND COALESCE(delivered_at, next_attempt_at) < {end}
"""
# The member's sale updates not yet sent: the newer one takes their place (kept, marked, so
# that the feed reading their sale again does not queue it anew).
_REPLACED = """
UPDATE push_delivery SET status = 'replaced', last_error = 'replaced by ' || {collapse_key}
WHERE member = {member_id} AND status = 'pending' AND collapse_key <> {collapse_key}
  AND notification->>'kind' = 'points_earned'
RETURNING collapse_key, (notification->'data'->>'points')::bigint AS points
"""
# The first key names the lock's use ("push" in ASCII); the second, the member's bucket.
# Buckets, not members: each advisory lock held takes a slot of PostgreSQL's shared lock table
# (max_locks_per_transaction x connections, 6,400 with the defaults) until commit, and one
# notices run or feed run holds a lock per member it queues for (thousands): with 1,024
# buckets a run holds at most 1,024. Two members sharing a bucket only wait for each other.
_CAP_LOCKS = 0x70757368
_LOCK = "SELECT pg_advisory_xact_lock({space}, hashtext({member_id}::uuid::text) & 1023)"
_TRY_LOCK = (
    "SELECT pg_try_advisory_xact_lock({space}, hashtext({member_id}::uuid::text) & 1023) AS locked"
)
_QUEUED = (
    "SELECT 1 FROM push_delivery WHERE member = {member_id} AND collapse_key = {collapse_key}"
    " LIMIT 1"
)


async def due_within_cap(
    member_id: uuid.UUID,
    collapse_key: str,
    due: datetime,
    where: ZoneInfo,
    quiet: QuietHours,
    cap: int = DAILY_CAP,
) -> datetime:
    """``due``, or the first moment of a later local day (out of quiet hours) with room.
    Takes the member's lock until the transaction ends (the notices have it already)."""
    await lock_member_day(member_id)
    for _ in range(MAX_DAYS_AHEAD):
        day = local_date(due, where)
        start = instant_of(datetime.combine(day, time()), where)
        end = instant_of(datetime.combine(day + timedelta(days=1), time()), where)
        (row,) = await sql.fetch(
            _ON_DAY, member_id=member_id, collapse_key=collapse_key, start=start, end=end
        )
        if row["n"] < cap:
            return due
        due = quiet.due_at(end, where)
    return due


async def lock_member_day(member_id: uuid.UUID, *, wait: bool = True) -> bool:
    """The member's cap lock, held to the end of the transaction; ``wait`` False: only if
    free at once (whether it was taken)."""
    if wait:
        await sql.fetch(_LOCK, space=_CAP_LOCKS, member_id=member_id)
        return True
    (row,) = await sql.fetch(_TRY_LOCK, space=_CAP_LOCKS, member_id=member_id)
    return bool(row["locked"])


async def already_queued(member_id: uuid.UUID, collapse_key: str) -> bool:
    return bool(await sql.fetch(_QUEUED, member_id=member_id, collapse_key=collapse_key))


async def replace_undelivered_sale_updates(member_id: uuid.UUID, collapse_key: str) -> int:
    """Mark the member's waiting sale updates replaced; the points they would have said."""
    rows = await sql.fetch(_REPLACED, member_id=member_id, collapse_key=collapse_key)
    # One per collapse key (a sale), whatever number of devices it was queued for.
    return sum(
        int(points) for points in {row["collapse_key"]: row["points"] for row in rows}.values()
    )
