"""Store figures folded from committed sales, after commit, in batches.

A sale writes only its member's rows; nothing it does waits on a row other sales share. Its
store's figures of the day (``store_day``, ``store_day_member``) and its store's stream
(``sale.completed``, ``stats.updated``) are derived here from the committed purchase rows,
by whichever process runs the periodic jobs (the scheduler, or a serving process whose
``ASTROCOFFEE_MAINTENANCE_INTERVAL_S`` is above 0), every ``interval_s``.

Exactly once, by a high-water mark on the purchases' ``feed_xid`` (the id of the transaction
that wrote each, ``pg_current_xact_id()``) and the transactions still running below it:
``store_figures_mark`` says every committed purchase below ``folded_below`` is counted,
except those of the ``waiting`` transactions. A pass reads, in one statement and so one
snapshot, the purchases that snapshot sees from the mark up to its ``xmax`` and those of the
waiting transactions; the mark moves to that ``xmax`` and ``waiting`` becomes the
transactions the snapshot saw running below it. A transaction that commits later is folded
by the pass that first sees it; one that rolls back leaves ``waiting`` with nothing to fold.
No pass waits for a long transaction (the server's other databases included), and none
counts a sale twice: the figures, the events and the mark move in one transaction, under
the mark row's lock, and a folder killed mid-pass leaves it to the next. The events are
published after commit (a lost publish is replayed from storage, like every stream's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from backend.local_time import StoreClock
from backend.stores.figures import DayMove, record_store_activity
from db import sql
from db.pool import engine
from realtime.protocol import utc_now
from realtime.publisher import EventPublisher, Outgoing

log = logging.getLogger(__name__)

# How often the folder looks for new sales: a dashboard sees a sale within about this.
FIGURES_INTERVAL_S = 0.2

# The mark, locked; made when missing (the tables may have been emptied), from 1: a
# purchase with feed_xid 0 was counted when it was written (before the folding, or loaded
# with its figures by devkit.history).
_MARK = "SELECT folded_below, waiting FROM store_figures_mark WHERE id = 1 FOR UPDATE"
_MAKE_MARK = """
INSERT INTO store_figures_mark (id, folded_below, waiting) VALUES (1, 1, '{{}}')
ON CONFLICT (id) DO NOTHING
"""
# What one snapshot sees: its xmax and running transactions, and the sales to fold. Two
# index range reads on ``purchase_feed_xid``, not one condition with an OR: asyncpg
# prepares the statement, and PostgreSQL's generic plan for ``feed_xid >= $1 OR feed_xid =
# ANY($2)`` (chosen after five runs) guessed a third of the table and read all of it, five
# times a second and longer as the sales grew (issue #24; tests/db/test_plans.py pins the
# generic plan). The waiting transactions are all below the mark, so the two never overlap.
_SALES = """
WITH seen AS (
    SELECT pg_snapshot_xmax(s)::text::bigint AS xmax,
           ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x) AS running
    FROM pg_current_snapshot() AS s
)
SELECT seen.xmax, seen.running, p.id, p.store, p.terminal, p.member, p.amount,
       p.paid_amount, p.currency, p.points_earned, p.points_redeemed, p.checkout,
       p.created_at, p.feed_xid, st.time_zone, st.day_starts_at
FROM seen
LEFT JOIN LATERAL (
    SELECT * FROM purchase WHERE feed_xid >= {folded_below} AND feed_xid < seen.xmax
    UNION ALL
    SELECT * FROM purchase
    WHERE feed_xid = ANY({waiting}::bigint[]) AND feed_xid < {folded_below}
) p ON true
LEFT JOIN store st ON st.id = p.store
ORDER BY p.feed_xid, p.created_at, p.id
"""
_MOVE_MARK = """
UPDATE store_figures_mark SET folded_below = {folded_below}, waiting = {waiting} WHERE id = 1
"""


def sale_completed(row: sql.Row) -> dict[str, Any]:
    """The data of a store's ``sale.completed`` event, from its purchase row."""

    def text(value: uuid.UUID | None) -> str | None:
        return None if value is None else str(value)

    return {
        "purchase_id": str(row["id"]),
        "terminal_id": text(row["terminal"]),
        "member_id": str(row["member"]),
        "amount": row["amount"],
        "paid_amount": row["paid_amount"],
        "currency": row["currency"],
        "points_earned": row["points_earned"],
        "points_redeemed": row["points_redeemed"],
        "checkout_id": text(row["checkout"]),
    }


async def _fold_pass() -> tuple[int, list[Outgoing]]:
    """Fold what one snapshot sees, in one transaction; return how many sales, and the
    events to publish."""
    async with engine().transaction():
        # A plan cached while the purchases were few would read them all once they are many.
        await sql.plan_each_run()
        marks = await sql.fetch(_MARK)
        if not marks:
            await sql.fetch(_MAKE_MARK)
            marks = await sql.fetch(_MARK)
        mark = marks[0]
        folded_below, waiting = int(mark["folded_below"]), [int(x) for x in mark["waiting"]]
        rows = await sql.fetch(_SALES, folded_below=folded_below, waiting=waiting)
        sales = [row for row in rows if row["id"] is not None]
        xmax = int(rows[0]["xmax"])
        if not sales:
            # Nothing to fold: the mark stays (no write while no sale comes; the next pass
            # reads from here again, the waiting transactions' sales included).
            return 0, []
        # Still running, and below the new mark: their sales are folded when they commit.
        still = sorted(x for x in rows[0]["running"] if x in waiting or x >= folded_below)
        envelopes = await _fold(sales, now=utc_now())
        await sql.fetch(_MOVE_MARK, folded_below=max(xmax, folded_below), waiting=still)
    return len(sales), envelopes


async def _fold(rows: Sequence[sql.Row], *, now: datetime) -> list[Outgoing]:
    """Move each store's figures of each business day by its sales in ``rows``."""
    groups: dict[tuple[uuid.UUID, date], list[sql.Row]] = defaultdict(list)
    clocks: dict[uuid.UUID, StoreClock] = {}
    for row in rows:
        clock = clocks.setdefault(
            row["store"], StoreClock.of(row["time_zone"], row["day_starts_at"])
        )
        groups[(row["store"], clock.business_day(row["created_at"]))].append(row)
    envelopes: list[Outgoing] = []
    for (store_id, day), sales in groups.items():
        envelopes += await record_store_activity(
            store_id=store_id,
            move=DayMove(
                sales=len(sales),
                sales_amount=sum(int(s["paid_amount"]) for s in sales),
                points_earned=sum(int(s["points_earned"]) for s in sales),
                points_redeemed=sum(int(s["points_redeemed"]) for s in sales),
                visitors=tuple(dict.fromkeys(s["member"] for s in sales)),
            ),
            day=day,
            clock=clocks[store_id],
            sales=[sale_completed(s) for s in sales],
            now=now,
        )
    return envelopes


async def fold_committed_sales(publisher: EventPublisher) -> int:
    """Fold every committed sale not yet counted into its store's figures and stream, and
    publish their events after commit. Return how many."""
    count, envelopes = await _fold_pass()
    if envelopes:
        await publisher.publish(envelopes)
    return count


class FiguresLoop:
    """``fold_committed_sales`` every ``interval_s`` in a task, until stopped (a stop waits
    for the pass in hand)."""

    def __init__(self, *, publisher: EventPublisher, interval_s: float) -> None:
        self._publisher = publisher
        self._interval_s = interval_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._interval_s > 0 and self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="store-figures")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping.set()
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await fold_committed_sales(self._publisher)
            except Exception:
                log.exception("folding sales into store figures failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval_s)
