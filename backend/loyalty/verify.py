"""Prove the cached balances agree with the ledger (``astrocoffee ledger verify``).

Three independent records must tell the same story for every account: the sum of its
ledger entries, the cached balance, and the lots and holds (checkouts, app orders awaiting
payment) that say where the points are.
"""

from __future__ import annotations

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


_LEDGER = """
SELECT a.id, a.member, a.available, a.pending, a.held,
       COALESCE(SUM(e.available_delta), 0)::bigint AS l_available,
       COALESCE(SUM(e.pending_delta), 0)::bigint AS l_pending,
       COALESCE(SUM(e.held_delta), 0)::bigint AS l_held
FROM account a
LEFT JOIN ledger_entry e ON e.account = a.id
GROUP BY a.id
HAVING a.available <> COALESCE(SUM(e.available_delta), 0)
    OR a.pending <> COALESCE(SUM(e.pending_delta), 0)
    OR a.held <> COALESCE(SUM(e.held_delta), 0)
"""

_LOTS_AND_HOLDS = """
WITH lots AS (
    SELECT account,
           SUM(remaining) FILTER (WHERE status = 'available')::bigint AS available,
           SUM(remaining) FILTER (WHERE status = 'pending')::bigint AS pending
    FROM point_lot GROUP BY account
), holds AS (
    SELECT member, SUM(hold_points)::bigint AS held FROM (
        SELECT member, hold_points FROM checkout WHERE status = 'held'
        UNION ALL
        SELECT member, hold_points FROM customer_order WHERE status = 'awaiting_payment'
    ) open_holds GROUP BY member
)
SELECT a.id, a.member, a.available, a.pending, a.held,
       COALESCE(l.available, 0) AS lot_available,
       COALESCE(l.pending, 0) AS lot_pending,
       COALESCE(h.held, 0) AS hold_held
FROM account a
LEFT JOIN lots l ON l.account = a.id
LEFT JOIN holds h ON h.member = a.member
WHERE GREATEST(a.available, 0) <> COALESCE(l.available, 0)
   OR a.pending <> COALESCE(l.pending, 0)
   OR a.held <> COALESCE(h.held, 0)
"""


async def find_mismatches() -> list[Mismatch]:
    mismatches = [
        Mismatch(
            account_id=str(r["id"]),
            member_id=str(r["member"]),
            check="balance == sum of ledger entries",
            cached=(r["available"], r["pending"], r["held"]),
            expected=(r["l_available"], r["l_pending"], r["l_held"]),
        )
        for r in await sql.fetch(_LEDGER)
    ]
    mismatches += [
        Mismatch(
            account_id=str(r["id"]),
            member_id=str(r["member"]),
            check="max(available,0), pending, held == lots and open holds",
            cached=(max(r["available"], 0), r["pending"], r["held"]),
            expected=(r["lot_available"], r["lot_pending"], r["hold_held"]),
        )
        for r in await sql.fetch(_LOTS_AND_HOLDS)
    ]
    return mismatches


async def count_accounts() -> int:
    return int(await Account.count())
