"""Prove the cached balances agree with the ledger (``astrocoffee ledger verify``)."""

from __future__ import annotations

from dataclasses import dataclass

from db.tables import Account


@dataclass(frozen=True, slots=True)
class Mismatch:
    account_id: str
    member_id: str
    cached: tuple[int, int, int]
    from_ledger: tuple[int, int, int]


_QUERY = """
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


async def find_mismatches() -> list[Mismatch]:
    rows = await Account.raw(_QUERY)
    return [
        Mismatch(
            account_id=str(r["id"]),
            member_id=str(r["member"]),
            cached=(r["available"], r["pending"], r["held"]),
            from_ledger=(r["l_available"], r["l_pending"], r["l_held"]),
        )
        for r in rows
    ]


async def count_accounts() -> int:
    return int(await Account.count())
