"""Point lots: which credit each point came from, so points are spent and expire oldest first.

Invariants, kept by every function here and checked by ``ledger verify``:
the remaining points of a member's available lots add up to ``max(available, 0)`` and of
pending lots to ``pending``. A negative ``available`` (a refund took back points already
spent) is a debt: later credits pay it off before they fill a lot.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from db import sql
from db.deferred import DeferredWrites, write
from db.ids import new_id

TakenLots = list[tuple[str, int]]

_SPEND_OLDEST_FIRST = """
WITH ordered AS (
    SELECT id, remaining,
           SUM(remaining) OVER (ORDER BY (id = {first}) DESC, expires_at, created_at, id)
             AS running
    FROM point_lot
    WHERE account = {account_id} AND status = 'available' AND remaining > 0
), taken AS (
    SELECT id, LEAST(remaining, {points} - (running - remaining)) AS take
    FROM ordered WHERE running - remaining < {points}
)
UPDATE point_lot AS lot SET remaining = lot.remaining - taken.take
FROM taken WHERE lot.id = taken.id
RETURNING lot.id, taken.take
"""

_GIVE_BACK = """
UPDATE point_lot AS lot SET remaining = lot.remaining + back.points
FROM unnest({lots}::uuid[], {points}::bigint[]) AS back(id, points)
WHERE lot.id = back.id
"""


async def take_oldest_first(
    account_id: uuid.UUID, points: int, *, first: uuid.UUID | None = None
) -> TakenLots:
    """Take ``points`` from available lots, soonest-expiring first (``first`` before all)."""
    if points <= 0:
        return []
    rows = await sql.fetch(
        _SPEND_OLDEST_FIRST, first=first or uuid.UUID(int=0), account_id=account_id, points=points
    )
    taken = [(str(row["id"]), int(row["take"])) for row in rows]
    if sum(take for _, take in taken) != points:
        raise RuntimeError(f"lots of account {account_id} hold fewer than {points} points")
    return taken


async def give_back(taken: TakenLots) -> None:
    if taken:
        await sql.fetch(
            _GIVE_BACK,
            lots=[uuid.UUID(lot) for lot, _ in taken],
            points=[points for _, points in taken],
        )


async def empty_pending(account_id: uuid.UUID) -> None:
    """Empty the account's pending lots (their points are forfeited with the account)."""
    await sql.fetch(
        "UPDATE point_lot SET remaining = 0"
        " WHERE account = {account_id} AND status = 'pending' AND remaining > 0",
        account_id=account_id,
    )


def beyond_debt(available_before: int, points: int) -> int:
    """How much of a credit is left for lots once a negative balance is paid off."""
    return max(0, available_before + points) - max(0, available_before)


def trim(taken: TakenLots, points: int) -> TakenLots:
    """The first ``points`` of ``taken`` (what a debt leaves of a give-back)."""
    trimmed = []
    for lot, amount in taken:
        if points <= 0:
            break
        trimmed.append((lot, min(amount, points)))
        points -= amount
    return trimmed


_ADD_LOT = """
INSERT INTO point_lot (id, account, source, purchase, points, remaining, status, available_at,
                       expires_at, created_at)
VALUES ({id}, {account_id}, {source}, {purchase_id}, {points}, {remaining}, {status},
        {available_at}, {expires_at}, {created_at})
"""


async def add_lot(
    *,
    account_id: uuid.UUID,
    points: int,
    source: str,
    status: str,
    available_at: datetime,
    expires_at: datetime,
    purchase_id: uuid.UUID | None = None,
    remaining: int | None = None,
    into: DeferredWrites | None = None,
) -> uuid.UUID:
    """A new lot; written now, or with the change's last statement when ``into`` is given."""
    lot_id = new_id()
    await write(
        _ADD_LOT,
        into,
        id=lot_id,
        account_id=account_id,
        source=source,
        purchase_id=purchase_id,
        points=points,
        remaining=points if remaining is None else remaining,
        status=status,
        available_at=available_at,
        expires_at=expires_at,
        created_at=datetime.now(UTC),
    )
    return lot_id
