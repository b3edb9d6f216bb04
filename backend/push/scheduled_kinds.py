"""The daily notices no stream event says: points about to expire (``points_expiring``) and a
birthday (``birthday``, marketing). A step of the scheduler's round (every interval), which
tells each member on their own local morning, wherever they are.

**When.** A member is told at ``NOTICE_HOUR`` on their local clock (``member.time_zone``, or
the program's zone until they have one). Each kind keeps a mark (``push_feed_mark``, names
``points_expiring`` and ``birthday``): the instant up to which local mornings are done. A run
takes the zones whose ``NOTICE_HOUR`` today (their local today) is past the mark and not
after now: each zone once a day, as its morning comes (UTC+2 at 09:00 UTC, UTC+10 at 01:00
UTC). A run missed (the scheduler down at 11:00) is caught up by the next one the same local
day; a zone whose day ended meanwhile is not told late at night about a day gone.

**What.** Read from the durable records, set-based, through indexes: the lots with points
left expiring within ``days`` (``point_lot_expiring``), or the members born on the day
(``member_birthday``), only of members with a device and the kind on. Per member the notice
goes through the same rules as every push: the kind's preference, marketing consent for
``birthday`` (``backend.push.stream_kinds.allowed``), quiet hours and the daily cap (they
defer, never drop), one delivery per device.

**Once.** The collapse key names the expiry date (``points_expiring:<member>:<date>``) or the
year (``birthday:<member>:<year>``); the reads skip members already queued for it, and a
delivery is unique per (device, collapse key), so a run again (or beside another) queues
nothing twice. A member whose daily cap the push feed is counting at that moment (its lock,
``backend.push.daily_cap``) is left to the next run, as a run cut short is. A member with
points expiring on several days within the window is told of
the soonest date not yet told, one notice a run. A run works through ``LIMIT`` members or
``BUDGET_S`` seconds in one transaction (holding the mark's row lock); cut short, it leaves
the mark where it was and the next run goes on (what was queued is skipped).
"""

from __future__ import annotations

import time as monotonic
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from backend.accounting.documents import program_zone
from backend.campaigns.catalogue import LiveCampaign, load_live_campaigns
from backend.campaigns.kinds import Birthday, birthday_in
from backend.local_time import instant_of, known_zones, zone
from backend.loyalty.expiring_soon import EXPIRING_DAYS
from backend.partners.expiring import queue_points_expiring
from backend.push.daily_cap import DAILY_CAP, due_within_cap, lock_member_day
from backend.push.preferences import member_zone, notification_settings, quiet_hours_of
from backend.push.providers import Notification
from backend.push.queue import queue_for_member
from backend.push.scheduled_texts import birthday, points_expiring
from backend.push.stream_kinds import allowed
from db import sql
from db.pool import engine

NOTICE_HOUR = 11  # local: a sensible morning hour, after the default quiet hours end (08:00)
EXPIRY_NOTICE_DAYS = 7
# One run's share: a day's notices at a million members are worked off over a few runs.
LIMIT = 5000
BATCH = 500
BUDGET_S = 10.0
# The first run (no mark yet) covers the mornings of the last day.
FIRST_LOOK_BACK = timedelta(days=1)

_MARK = (
    "INSERT INTO push_feed_mark (name, read_until) VALUES ({name}, {start}) "
    "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING read_until"
)
# Never back (a run given an earlier ``now`` would only redo mornings: harmless, but idle).
_MOVE_MARK = (
    "UPDATE push_feed_mark SET read_until = GREATEST(read_until, {until}) WHERE name = {name}"
)

# Both reads keep only members with a device to tell, the kind on, and not told yet under
# the notice's collapse key (through one_per_device_and_key).
#
# Members with points expiring on a local day within ``days`` days of their local today, the
# soonest such day not told yet, and that day's points (``backend.loyalty.expiring_soon``).
# One read a run: those told drop out of it.
EXPIRING = (
    EXPIRING_DAYS  # noqa: S608 (fixed texts, bound values)
    + """
SELECT DISTINCT ON (d.member) d.member, d.day, d.points FROM days d
WHERE EXISTS (SELECT 1 FROM member_device v WHERE v.member = d.member)
  AND NOT EXISTS (SELECT 1 FROM notification_settings s
                  WHERE s.member = d.member AND 'points_expiring' = ANY(s.kinds_off))
  AND NOT EXISTS (SELECT 1 FROM member_device v JOIN push_delivery p ON p.device = v.id
                  WHERE v.member = d.member AND p.collapse_key
                        = 'points_expiring:' || d.member || ':' || to_char(d.day, 'YYYY-MM-DD'))
ORDER BY d.member, d.day LIMIT {limit}
"""
)
# Members born on ``month``/``day`` (each zone in ``zones`` is on that date), not told this
# year; through member_birthday.
BIRTHDAYS = """
SELECT m.id AS member, m.tier FROM member m
WHERE m.birth_date IS NOT NULL
  AND EXTRACT(MONTH FROM m.birth_date) = {month} AND EXTRACT(DAY FROM m.birth_date) = {day}
  AND COALESCE(m.time_zone, {program}) = ANY({zones}::text[])
  AND m.id > {after}
  AND EXISTS (SELECT 1 FROM member_device v WHERE v.member = m.id)
  AND NOT EXISTS (SELECT 1 FROM notification_settings s
                  WHERE s.member = m.id AND 'birthday' = ANY(s.kinds_off))
  AND NOT EXISTS (SELECT 1 FROM member_device v JOIN push_delivery p ON p.device = v.id
                  WHERE v.member = m.id AND p.collapse_key = 'birthday:' || m.id || ':' || {year})
ORDER BY m.id LIMIT {batch}
"""

_NOBODY = uuid.UUID(int=0)


def mornings_due(since: datetime, now: datetime) -> dict[date, list[str]]:
    """The zones whose ``NOTICE_HOUR`` on their local today is in (``since``, ``now``], by
    that local date (at most a few dates: zones are a day apart at most)."""
    due: dict[date, list[str]] = defaultdict(list)
    for name in sorted(known_zones()):
        where = zone(name)
        today = now.astimezone(where).date()
        morning = instant_of(datetime.combine(today, time(NOTICE_HOUR)), where)
        if since < morning <= now:
            due[today].append(name)
    return dict(due)


async def queue_daily_notices(
    *,
    now: datetime | None = None,
    days: int = EXPIRY_NOTICE_DAYS,
    daily_cap: int = DAILY_CAP,
    limit: int = LIMIT,
    budget_s: float = BUDGET_S,
) -> int:
    """Queue the points-expiring and birthday notices of the mornings come since the last
    run, and the partners' ``points.expiring``; how many deliveries (push and partner) were
    queued."""
    now = now or datetime.now(UTC)
    deadline = monotonic.monotonic() + budget_s

    async def expiring(due: dict[date, list[str]]) -> tuple[int, bool]:
        return await _expiring(due, now, days, daily_cap, limit, deadline)

    async def birthdays(due: dict[date, list[str]]) -> tuple[int, bool]:
        return await _birthdays(due, now, daily_cap, limit, deadline)

    queued = await _run("points_expiring", now, expiring)
    return queued + await _run("birthday", now, birthdays)


async def _run(
    name: str,
    now: datetime,
    work: Callable[[dict[date, list[str]]], Awaitable[tuple[int, bool]]],
) -> int:
    async with engine().transaction():
        (mark,) = await sql.fetch(_MARK, name=name, start=now - FIRST_LOOK_BACK)
        due = mornings_due(mark["read_until"], now)
        queued, finished = await work(due) if due else (0, True)
        if finished:
            await sql.fetch(_MOVE_MARK, name=name, until=now)
    return queued


async def _expiring(
    due: dict[date, list[str]],
    now: datetime,
    days: int,
    daily_cap: int,
    limit: int,
    deadline: float,
) -> tuple[int, bool]:
    zones = [name for names in due.values() for name in names]
    program = program_zone().key
    # The same mornings' points.expiring for partners (every member with points expiring).
    queued, partners_done = await queue_points_expiring(
        zones, program=program, now=now, days=days, limit=limit
    )
    rows = await sql.fetch(
        EXPIRING,
        zones=zones,
        program=program,
        now=now,
        horizon=now + timedelta(days=days + 2),
        days=days,
        limit=limit,
    )
    busy = False
    for row in rows:
        if monotonic.monotonic() >= deadline:
            return queued, False
        told = await _tell(row["member"], now, daily_cap, _expiring_notice(row))
        busy = busy or told is None
        queued += told or 0
    # A full read may have left members out, a busy one was: the next run reads again
    # (those told are not).
    return queued, partners_done and len(rows) < limit and not busy


def _expiring_notice(row: sql.Row) -> Callable[[str], Notification]:
    def notice(language: str) -> Notification:
        return points_expiring(
            member_id=row["member"],
            points=int(row["points"]),
            expires_on=row["day"],
            language=language,  # type: ignore[arg-type]
        )

    return notice


async def _birthdays(
    due: dict[date, list[str]], now: datetime, daily_cap: int, limit: int, deadline: float
) -> tuple[int, bool]:
    campaigns = [c for c in await load_live_campaigns() if isinstance(c.rule, Birthday)]
    queued, seen, busy = 0, 0, False
    for today, zones in sorted(due.items()):
        for month, day in born_on(today):
            after = _NOBODY
            while True:
                rows = await sql.fetch(
                    BIRTHDAYS,
                    month=month,
                    day=day,
                    zones=zones,
                    program=program_zone().key,
                    year=str(today.year),
                    after=after,
                    batch=BATCH,
                )
                for row in rows:
                    notice = _birthday_notice(row, today, treat(campaigns, row["tier"], now))
                    told = await _tell(row["member"], now, daily_cap, notice)
                    busy = busy or told is None
                    queued += told or 0
                seen, after = seen + len(rows), rows[-1]["member"] if rows else after
                if len(rows) < BATCH:
                    break
                if seen >= limit or monotonic.monotonic() >= deadline:
                    return queued, False
    return queued, not busy


def born_on(today: date) -> list[tuple[int, int]]:
    """The (month, day) of birth dates whose birthday is ``today``: 29 February's is 1 March
    in a common year, as the birthday campaign counts it (``birthday_in``)."""
    found = [(today.month, today.day)]
    if birthday_in(date(2000, 2, 29), today.year) == today and (today.month, today.day) != (2, 29):
        found.append((2, 29))
    return found


def treat(campaigns: Sequence[LiveCampaign], tier: str, at: datetime) -> LiveCampaign | None:
    """The birthday campaign in effect the member is in (by tier: a segment is judged at the
    till, so a campaign with one is not promised here), best first; None: a greeting only."""
    for campaign in campaigns:
        targeting = campaign.targeting
        if not campaign.in_effect(at) or targeting.segment is not None:
            continue
        if not targeting.tiers or tier in targeting.tiers:
            return campaign
    return None


def _birthday_notice(
    row: sql.Row, today: date, campaign: LiveCampaign | None
) -> Callable[[str], Notification]:
    def notice(language: str) -> Notification:
        points, until = None, None
        if campaign is not None and isinstance(campaign.rule, Birthday):
            points = campaign.rule.points
            window = campaign.rule.window_days
            until = today + timedelta(days=window) if window else None
        return birthday(
            member_id=row["member"],
            year=today.year,
            language=language,  # type: ignore[arg-type]
            treat_points=points,
            treat_until=until,
        )

    return notice


async def _tell(
    member_id: uuid.UUID,
    now: datetime,
    daily_cap: int,
    notice: Callable[[str], Notification],
) -> int | None:
    """The member's notice through the rules every push follows; deliveries queued. None:
    the push feed holds the member's cap lock (waiting for it here could deadlock, this run
    holding others' locks), so the next run tells them."""
    if not await lock_member_day(member_id, wait=False):
        return None
    settings = await notification_settings(member_id)
    notification = notice(settings.language)
    if not settings.kinds.get(notification.kind, True):  # type: ignore[call-overload]
        return 0
    if not await allowed(member_id, notification):  # marketing: the push consent
        return 0
    where, quiet = await member_zone(member_id), quiet_hours_of(settings)
    due = await due_within_cap(
        member_id, notification.collapse_key, quiet.due_at(now, where), where, quiet, daily_cap
    )
    return await queue_for_member(member_id, notification, now=now, due=due)
