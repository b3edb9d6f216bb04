"""Time-driven changes: pending points become available, old points expire.

Both work one account per transaction, so they can run from several processes at once and
be re-run at any time: a lot is emptied (or released) in the same transaction as the ledger
entry that records it, and the next run finds nothing left to do for it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from backend.accounting.documents import program_day, record_document
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.ledger import lock_account
from db import sql
from db.pool import engine
from db.tables import PointLot
from realtime.publisher import EventPublisher

# The members with something due, soonest first through the partial indexes
# point_lot_expiring and point_lot_releasing; a batch at a time, so that the index's
# already-done entries are walked once a batch, not once an account.
DUE_EXPIRY = (
    "SELECT a.member FROM point_lot l JOIN account a ON a.id = l.account "
    "WHERE l.status = 'available' AND l.remaining > 0 AND l.expires_at <= {now} "
    "ORDER BY l.expires_at LIMIT {batch}"
)
DUE_RELEASE = (
    "SELECT a.member FROM point_lot l JOIN account a ON a.id = l.account "
    "WHERE l.status = 'pending' AND l.available_at <= {now} "
    "ORDER BY l.available_at LIMIT {batch}"
)
BATCH = 200
# What one run may spend on each of the two: a third of the scheduler's 30-s interval, so a
# backlog (a scheduler stopped for a day) is worked off over the next runs instead of one
# run overrunning the interval. At 1M members the steady arrival is far below it
# (docs/performance.md, "1M members").
LIMIT = 10_000
BUDGET_S = 10.0


async def expire_points(
    publisher: EventPublisher, *, now: datetime, limit: int = LIMIT, budget_s: float = BUDGET_S
) -> int:
    """Expire every lot past its date, oldest first, within ``limit`` accounts and
    ``budget_s`` seconds; return how many points expired."""
    return await _each_due_account(
        DUE_EXPIRY, _expire_account, publisher, now, limit, time.monotonic() + budget_s
    )


async def _each_due_account(
    due: str,
    work: Callable[[EventPublisher, uuid.UUID, datetime], Awaitable[int]],
    publisher: EventPublisher,
    now: datetime,
    limit: int,
    deadline: float,
) -> int:
    """Run ``work`` for each account with something due, one transaction each, until none
    is left, ``limit`` accounts were done or the monotonic clock passed ``deadline``."""
    total, done = 0, 0
    while done < limit and time.monotonic() < deadline:
        rows = await sql.fetch(due, now=now, batch=min(BATCH, limit - done))
        if not rows:
            break
        # A member with several due lots comes once: the first transaction takes them all.
        for member_id in dict.fromkeys(row["member"] for row in rows):
            if time.monotonic() >= deadline:
                break
            total += await work(publisher, member_id, now)
            done += 1
    return total


async def _expire_account(publisher: EventPublisher, member_id: uuid.UUID, now: datetime) -> int:
    async with engine().transaction():
        change = AccountChange(await lock_account(member_id), now=now)
        lots = await sql.fetch(
            "UPDATE point_lot AS lot SET remaining = 0 FROM point_lot AS old "
            "WHERE lot.id = old.id AND lot.account = {account_id} AND lot.status = 'available' "
            "AND lot.remaining > 0 AND lot.expires_at <= {now} "
            "RETURNING lot.id, old.remaining AS expired",
            account_id=change.account.id,
            now=now,
        )
        for lot in lots:
            change.expire(int(lot["expired"]), Cause("expiry", lot["id"]))
        expired = sum(int(lot["expired"]) for lot in lots)
        if expired:
            await record_document(
                type="points_expiry",
                reference=change.account.id,
                occurred_at=now,
                business_date=program_day(now),  # no store made it
                points_liability_delta=-expired,
            )
        _, envelopes = await change.finish(context={"reason": "expiry"})
    await publisher.publish(envelopes)
    return expired


async def release_pending(
    publisher: EventPublisher, *, now: datetime, limit: int = LIMIT, budget_s: float = BUDGET_S
) -> int:
    """Make points available whose return window has passed, within ``limit`` accounts and
    ``budget_s`` seconds; return how many."""
    return await _each_due_account(
        DUE_RELEASE, _release_account, publisher, now, limit, time.monotonic() + budget_s
    )


async def _release_account(publisher: EventPublisher, member_id: uuid.UUID, now: datetime) -> int:
    async with engine().transaction():
        change = AccountChange(await lock_account(member_id), now=now)
        lots = await sql.fetch(
            "SELECT id, remaining FROM point_lot WHERE account = {account_id} "
            "AND status = 'pending' AND available_at <= {now} ORDER BY available_at, id",
            account_id=change.account.id,
            now=now,
        )
        released = 0
        for lot in lots:
            points = int(lot["remaining"])
            for_lot = change.release(points, Cause("release", lot["id"]))
            await PointLot.update(
                {PointLot.status: "available", PointLot.remaining: for_lot}
            ).where(PointLot.id == lot["id"])
            released += points
        _, envelopes = await change.finish(context={"reason": "release"})
    await publisher.publish(envelopes)
    return released
