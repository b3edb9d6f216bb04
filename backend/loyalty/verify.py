"""Prove the cached balances agree with the ledger (``astrocoffee ledger verify``).

Three independent records must tell the same story for every account: the sum of its
ledger entries, the cached balance, and the lots and holds (checkouts, app orders awaiting
payment) that say where the points are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from db import sql
from db.tables import Account


@dataclass(frozen=True, slots=True)
class Mismatch:
    account_id: str
    member_id: str
    check: str
    cached: tuple[int, ...]
    expected: tuple[int, ...]


# The accounts are checked a range of ids at a time (``BATCH``), each statement bounded by
# the pool's command timeout however large the chain: a 1M-member chain's 13M entries are
# ~100 statements of ~130k entries each, not one aggregation of all of them.
BATCH = 10_000

_RANGE_END = "SELECT id FROM account WHERE id > {after} ORDER BY id OFFSET {skip} LIMIT 1"

_LEDGER = """
SELECT a.id, a.member, a.available, a.pending, a.held,
       COALESCE(SUM(e.available_delta), 0)::bigint AS l_available,
       COALESCE(SUM(e.pending_delta), 0)::bigint AS l_pending,
       COALESCE(SUM(e.held_delta), 0)::bigint AS l_held
FROM account a
LEFT JOIN ledger_entry e ON e.account = a.id
WHERE a.id > {after} AND a.id <= {last}
GROUP BY a.id
HAVING a.available <> COALESCE(SUM(e.available_delta), 0)
    OR a.pending <> COALESCE(SUM(e.pending_delta), 0)
    OR a.held <> COALESCE(SUM(e.held_delta), 0)
"""

# Empty lots add nothing: leaving them out lets the range read point_lot_spendable (whose
# rows are the lots with points left) instead of the whole table.
_LOTS_AND_HOLDS = """
WITH lots AS (
    SELECT account,
           SUM(remaining) FILTER (WHERE status = 'available')::bigint AS available,
           SUM(remaining) FILTER (WHERE status = 'pending')::bigint AS pending
    FROM point_lot WHERE account > {after} AND account <= {last} AND remaining > 0
    GROUP BY account
)
SELECT a.id, a.member, a.available, a.pending, a.held,
       COALESCE(l.available, 0) AS lot_available,
       COALESCE(l.pending, 0) AS lot_pending,
       COALESCE(h.held, 0) AS hold_held
FROM account a
LEFT JOIN lots l ON l.account = a.id
LEFT JOIN LATERAL (
    SELECT SUM(hold_points)::bigint AS held FROM (
        SELECT hold_points FROM checkout WHERE member = a.member AND status = 'held'
        UNION ALL
        SELECT hold_points FROM customer_order
        WHERE member = a.member AND status = 'awaiting_payment'
    ) open_holds
) h ON true
WHERE a.id > {after} AND a.id <= {last}
  AND (GREATEST(a.available, 0) <> COALESCE(l.available, 0)
       OR a.pending <> COALESCE(l.pending, 0)
       OR a.held <> COALESCE(h.held, 0))
"""

_LAST_ID = uuid.UUID(int=(1 << 128) - 1)


async def find_mismatches(*, batch: int = BATCH) -> list[Mismatch]:
    mismatches: list[Mismatch] = []
    after = uuid.UUID(int=0)
    while after != _LAST_ID:
        end = await sql.fetch(_RANGE_END, after=after, skip=batch - 1)
        last = end[0]["id"] if end else _LAST_ID
        mismatches += await _check(after=after, last=last)
        after = last
    return mismatches


async def _check(*, after: uuid.UUID, last: uuid.UUID) -> list[Mismatch]:
    mismatches = [
        Mismatch(
            account_id=str(r["id"]),
            member_id=str(r["member"]),
            check="balance == sum of ledger entries",
            cached=(r["available"], r["pending"], r["held"]),
            expected=(r["l_available"], r["l_pending"], r["l_held"]),
        )
        for r in await sql.fetch(_LEDGER, after=after, last=last)
    ]
    mismatches += [
        Mismatch(
            account_id=str(r["id"]),
            member_id=str(r["member"]),
            check="max(available,0), pending, held == lots and open holds",
            cached=(max(r["available"], 0), r["pending"], r["held"]),
            expected=(r["lot_available"], r["lot_pending"], r["hold_held"]),
        )
        for r in await sql.fetch(_LOTS_AND_HOLDS, after=after, last=last)
    ]
    return mismatches


async def count_accounts() -> int:
    return int(await Account.count())
