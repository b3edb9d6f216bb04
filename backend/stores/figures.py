"""A store's figures of the day, and what sales or a refund tell its store's stream.

A store's figures are counters (``store_day``) moved by sales, folded in batches after they
commit (``backend.stores.folding``: a sale's own transaction touches no store row), and by
refunds. One statement moves them whatever the day's volume: counting the visitors, moving
the day, taking the store stream's seqs and storing its ``sale.completed`` and
``stats.updated`` events (``backend.streams.store``), published after commit.

Days are the store's business days (``StoreClock.business_day``): its local calendar in its
own zone, each day starting at its ``day_starts_at`` hour. A sale counts on the business day
it was made; a refund moves the figures of its purchase's business day. The figures say
which zone their ``day`` is in (``time_zone``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from backend.local_time import StoreClock
from backend.streams.store import STORES
from backend.streams.stream import Event
from db import sql
from db.ids import new_id
from db.tables import StoreDay
from realtime.protocol import utc_now
from realtime.publisher import Outgoing

FIGURES = (
    "sales",
    "sales_amount",
    "points_earned",
    "points_redeemed",
    "points_reversed",
    "refunded_amount",
    "active_members",
    "new_members",
)

_MOVE_DAY = (
    """
WITH visitor AS (
    INSERT INTO store_day_member (id, store, day, member)
    SELECT v.id, {store_id}, {day}, v.member
    FROM unnest({visit_ids}::uuid[], {visitors}::uuid[]) AS v(id, member)
    ON CONFLICT DO NOTHING
    RETURNING member
), moved AS (
    INSERT INTO store_day AS d (id, store, day, sales, sales_amount, points_earned,
                                points_redeemed, points_reversed, refunded_amount,
                                active_members, new_members)
    SELECT {day_id}, {store_id}, {day}, {sales}, {sales_amount}, {points_earned},
           {points_redeemed}, {points_reversed}, {refunded_amount}, COUNT(v.member),
           COUNT(v.member) FILTER (WHERE m.created_at >= {day_start} AND m.created_at < {day_end})
    FROM (SELECT 1) AS one
    LEFT JOIN visitor v ON true LEFT JOIN member m ON m.id = v.member
    ON CONFLICT (store, day) DO UPDATE SET
        sales = d.sales + EXCLUDED.sales,
        sales_amount = d.sales_amount + EXCLUDED.sales_amount,
        points_earned = d.points_earned + EXCLUDED.points_earned,
        points_redeemed = d.points_redeemed + EXCLUDED.points_redeemed,
        points_reversed = d.points_reversed + EXCLUDED.points_reversed,
        refunded_amount = d.refunded_amount + EXCLUDED.refunded_amount,
        active_members = d.active_members + EXCLUDED.active_members,
        new_members = d.new_members + EXCLUDED.new_members
    RETURNING d.*
), numbered AS (
    UPDATE store SET last_event_seq = last_event_seq + {event_count}
    WHERE id = {store_id}
    RETURNING last_event_seq
), """  # noqa: S608 (fixed fragments, bound values)
    + STORES.insert(
        "stored",
        numbered="numbered",
        # stats.updated comes without data: its data is the day's row as moved just now.
        data="""COALESCE(e.data::jsonb, jsonb_build_object(
               'store_id', moved.store::text, 'day', moved.day::text,
               'time_zone', {time_zone}::text,
               'sales', moved.sales, 'sales_amount', moved.sales_amount,
               'points_earned', moved.points_earned, 'points_redeemed', moved.points_redeemed,
               'points_reversed', moved.points_reversed,
               'refunded_amount', moved.refunded_amount,
               'active_members', moved.active_members, 'new_members', moved.new_members))""",
        reads=("moved",),
    )
    + """
SELECT moved.*, numbered.last_event_seq FROM moved, numbered
"""
)


@dataclass(frozen=True, slots=True)
class DayMove:
    """What sales or a refund add to their store's figures of the day they belong to."""

    sales: int = 0
    sales_amount: int = 0
    points_earned: int = 0
    points_redeemed: int = 0
    points_reversed: int = 0
    refunded_amount: int = 0
    visitors: tuple[uuid.UUID, ...] = ()  # the buyers, each counted once per store and day


def figures_of(
    store_id: uuid.UUID, day: date, clock: StoreClock, row: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The data of ``stats.updated`` and of GET .../stats (zeros before the first sale)."""
    counts = {name: int(row[name]) if row else 0 for name in FIGURES}
    return {
        "store_id": str(store_id),
        "day": day.isoformat(),
        "time_zone": clock.zone.key,
        **counts,
    }


async def figures_of_day(
    store_id: uuid.UUID, clock: StoreClock, *, now: datetime, day: date | None = None
) -> dict[str, Any]:
    """The store's figures of business ``day``; today's (in the store's calendar) by
    default."""
    if day is None:
        day = clock.business_day(now)
    row = (
        await StoreDay.select(*(getattr(StoreDay, name) for name in FIGURES))
        .where((StoreDay.store == store_id) & (StoreDay.day == day))
        .first()
    )
    return figures_of(store_id, day, clock, row)


async def record_store_activity(
    *,
    store_id: uuid.UUID,
    move: DayMove,
    day: date,
    clock: StoreClock,
    sales: Sequence[dict[str, Any]],
    now: datetime,
) -> list[Outgoing]:
    """Move the figures of business ``day`` (in the store's ``clock``); store a
    ``sale.completed`` for each of ``sales`` (their data) and, when ``day`` is the store's
    business day at ``now``, ``stats.updated``. Returns the encoded events to publish after
    commit."""
    stored: list[Event] = [("sale.completed", sale) for sale in sales]
    if day == clock.business_day(now):
        stored.append(("stats.updated", None))  # its data is the day's row, made in SQL
    at = utc_now()
    day_start, day_end = clock.day_bounds(day)
    counters = asdict(move)  # each under the statement's parameter of its name
    visitors = counters.pop("visitors")
    rows = await sql.fetch(
        _MOVE_DAY,
        visit_ids=[new_id() for _ in visitors],
        visitors=list(visitors),
        day_id=new_id(),
        store_id=store_id,
        day=day,
        day_start=day_start,
        day_end=day_end,
        time_zone=clock.zone.key,
        **counters,
        **STORES.params(store_id, stored, at=at),
    )
    row = rows[0]
    sent = [
        (type, figures_of(store_id, day, clock, row) if data is None else data)
        for type, data in stored
    ]
    return STORES.envelopes(store_id, sent, last_event_seq=row["last_event_seq"], at=at)
