"""The program's figures per day: the points the members hold (the chain's outstanding
liability) and how many members each tier has, from daily snapshots (``program_day``).

Why snapshots: the liability now is a sum over every account and the members per tier a
count over every member: a million rows each at the chain's size, too much for each look
at a chart and impossible for a past day (accounts keep no history). The periodic jobs
take the snapshot about once an hour (``SNAPSHOT_EVERY_S``), upserting the row of the UTC
day, so a day's row is its end within the hour; a chart reads one row per day.

The first snapshot also backfills the days before it from the ledger, once: every account
moves only by ledger entries, so the sum of a day's deltas and all before it is the points
held at the end of that day. Members per tier have no such history: backfilled days have
none, and the tier chart starts at the first snapshot.

The liability is the chain's only, not a store's: points belong to a member's account
whichever store they were earned in and are spent anywhere, so a store's "share" of the
outstanding points would be an allocation rule, not a fact. A store's charts show its own
flow (earned, redeemed per business day) instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import msgspec

from backend.http import csv_text
from backend.local_time import days_from
from backend.loyalty.rules import TIER_ORDER
from db import sql
from db.pool import engine

SNAPSHOT_EVERY_S = 3600

_LAST_TAKEN = "SELECT taken_at FROM program_day WHERE day = {day}"
_ANY = "SELECT EXISTS (SELECT 1 FROM program_day) AS found"
# Once, before the first snapshot: the running sum of the ledger's deltas per UTC day.
_BACKFILL = """
INSERT INTO program_day (day, points_available, points_pending, points_held, taken_at)
SELECT day, sum(available) OVER running, sum(pending) OVER running, sum(held) OVER running,
       {now}
FROM (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, sum(available_delta) AS available,
           sum(pending_delta) AS pending, sum(held_delta) AS held
    FROM ledger_entry WHERE created_at < {before} GROUP BY 1
) per_day
WINDOW running AS (ORDER BY day)
ON CONFLICT (day) DO NOTHING
"""
_TAKE = """
INSERT INTO program_day
    (day, points_available, points_pending, points_held, members, tiers, taken_at)
SELECT {day}, points.available, points.pending, points.held, tiers.members, tiers.tiers, {now}
FROM (
    SELECT coalesce(sum(available), 0)::bigint AS available,
           coalesce(sum(pending), 0)::bigint AS pending,
           coalesce(sum(held), 0)::bigint AS held
    FROM account
) points, (
    SELECT coalesce(sum(n), 0)::bigint AS members,
           coalesce(jsonb_object_agg(tier, n), '{{}}'::jsonb) AS tiers
    FROM (SELECT tier, count(*) AS n FROM member GROUP BY tier) per_tier
) tiers
ON CONFLICT (day) DO UPDATE SET
    points_available = EXCLUDED.points_available, points_pending = EXCLUDED.points_pending,
    points_held = EXCLUDED.points_held, members = EXCLUDED.members, tiers = EXCLUDED.tiers,
    taken_at = EXCLUDED.taken_at
"""
# The range's rows and the last row before it (a day without a row is as the one before:
# only a backfilled day without ledger entries has none).
_RANGE = """
SELECT day, points_available, points_pending, points_held, members, tiers
FROM program_day
WHERE day <= {last}
  AND day >= coalesce((SELECT max(day) FROM program_day WHERE day <= {first}), {first})
ORDER BY day
"""


class ProgramFigures(msgspec.Struct, frozen=True, kw_only=True):
    day: date  # UTC
    points_available: int
    points_pending: int
    points_held: int
    points_outstanding: int  # all three: what the members could still spend
    members: int | None  # None: a backfilled day (no tier history)
    tiers: dict[str, int] | None


class ProgramDays(msgspec.Struct, frozen=True, kw_only=True):
    tiers: list[str]  # the tiers, lowest first
    days: list[ProgramFigures]  # the days known in the range (none after the last snapshot)


async def take_snapshot(*, now: datetime) -> int:
    """Snapshot today's (UTC) figures unless one was taken in the last ``SNAPSHOT_EVERY_S``;
    before the first, backfill the earlier days from the ledger. Return 1 if taken."""
    today = now.astimezone(UTC).date()
    taken = await sql.fetch(_LAST_TAKEN, day=today)
    if taken and now - taken[0]["taken_at"] < timedelta(seconds=SNAPSHOT_EVERY_S):
        return 0
    async with engine().transaction():
        if not (await sql.fetch(_ANY))[0]["found"]:
            before = datetime.combine(today, time(), tzinfo=UTC)
            await sql.fetch(_BACKFILL, before=before, now=now)
        await sql.fetch(_TAKE, day=today, now=now)
    return 1


def _figures(day: date, row: sql.Row) -> ProgramFigures:
    available, pending, held = (
        int(row["points_available"]),
        int(row["points_pending"]),
        int(row["points_held"]),
    )
    tiers = sql.loaded_json(row["tiers"])
    return ProgramFigures(
        day=day,
        points_available=available,
        points_pending=pending,
        points_held=held,
        points_outstanding=available + pending + held,
        members=row["members"],
        tiers={tier: int(tiers.get(tier, 0)) for tier in TIER_ORDER} if tiers else None,
    )


async def program_days(first: date, last: date) -> ProgramDays:
    rows = await sql.fetch_lagging(_RANGE, first=first, last=last)
    days: list[ProgramFigures] = []
    latest: sql.Row | None = None
    upcoming = list(rows)
    for day in days_from(first, last):
        while upcoming and upcoming[0]["day"] <= day:
            latest = upcoming.pop(0)
        if latest is not None and day <= rows[-1]["day"]:
            days.append(_figures(day, latest))
    return ProgramDays(tiers=list(TIER_ORDER), days=days)


def liability_csv(report: ProgramDays) -> str:
    return csv_text(
        ["day", "points_available", "points_pending", "points_held", "points_outstanding"],
        (
            (d.day, d.points_available, d.points_pending, d.points_held, d.points_outstanding)
            for d in report.days
        ),
    )


def tiers_csv(report: ProgramDays) -> str:
    return csv_text(
        ["day", "members", *report.tiers],
        (
            (d.day, d.members, *(d.tiers[tier] for tier in report.tiers))
            for d in report.days
            if d.tiers is not None
        ),
    )
