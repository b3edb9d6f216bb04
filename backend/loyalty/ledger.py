"""The points ledger: append-only entries, and the account balance cached beside them.

Every change goes through ``post_entries`` inside the caller's transaction, after the
account row was locked with ``lock_account``, so the entries and the balance they produce
commit together or not at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from backend.errors import MemberNotFound
from backend.members.schemas import Balance
from backend.ops.metrics import count_ledger_entries
from db.ids import new_id
from db.tables import Account, LedgerEntry


@dataclass(frozen=True, slots=True)
class LockedAccount:
    id: uuid.UUID
    member_id: uuid.UUID
    tier: str
    balance: Balance


@dataclass(frozen=True, slots=True)
class EntryDraft:
    kind: str
    cause_type: str
    cause_id: uuid.UUID | None
    available_delta: int = 0
    pending_delta: int = 0
    held_delta: int = 0
    note: str = ""
    id: uuid.UUID = field(default_factory=new_id)


async def lock_account(member_id: uuid.UUID) -> LockedAccount:
    """Lock the member's account row for the rest of the transaction (FOR UPDATE).

    Every change to a member's points starts here, so changes to one account are serialized
    and two accounts are never locked by one transaction (no lock-order deadlocks).
    """
    row = (
        await Account.select(
            Account.id,
            Account.available,
            Account.pending,
            Account.held,
            Account.member.tier,
        )
        .where(Account.member == member_id)
        .lock_rows("UPDATE", of=(Account,))
        .first()
    )
    if row is None:
        raise MemberNotFound(f"member {member_id} has no account")
    return LockedAccount(
        id=row["id"],
        member_id=member_id,
        tier=row["member.tier"],
        balance=Balance(available=row["available"], pending=row["pending"], held=row["held"]),
    )


async def post_entries(account: LockedAccount, entries: list[EntryDraft]) -> Balance:
    """Append ``entries`` and move the cached balance by their sum; return the new balance."""
    available = sum(entry.available_delta for entry in entries)
    pending = sum(entry.pending_delta for entry in entries)
    held = sum(entry.held_delta for entry in entries)
    earned = sum(
        entry.available_delta + entry.pending_delta for entry in entries if entry.kind == "earn"
    )
    for entry in entries:
        count_ledger_entries(entry.kind, entry.available_delta + entry.pending_delta)
    await LedgerEntry.insert(
        *(
            LedgerEntry(
                id=entry.id,
                account=account.id,
                kind=entry.kind,
                available_delta=entry.available_delta,
                pending_delta=entry.pending_delta,
                held_delta=entry.held_delta,
                cause_type=entry.cause_type,
                cause_id=entry.cause_id,
                note=entry.note,
            )
            for entry in entries
        )
    )
    values: dict[Any, Any] = {
        Account.available: Account.available + available,
        Account.pending: Account.pending + pending,
        Account.held: Account.held + held,
        Account.lifetime_earned: Account.lifetime_earned + earned,
    }
    rows = (
        await Account.update(values)
        .where(Account.id == account.id)
        .returning(Account.available, Account.pending, Account.held)
    )
    row = rows[0]
    return Balance(available=row["available"], pending=row["pending"], held=row["held"])
