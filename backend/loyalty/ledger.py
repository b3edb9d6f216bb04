"""The points ledger: append-only entries, and the account balance cached beside them.

Every change goes through ``post`` inside the caller's transaction, after the
account row was locked with ``lock_account``, so the entries and the balance they produce
commit together or not at all. One kind of change may skip the lock: a plain sale reads the
account without one and posts in a single statement of its own, which is written only if the
account has not moved since (its member stream's seq is the one read; every change to a
member's points posts events, so moves the seq). If it has, the statement fails as a whole
(``AccountMoved``) and the sale runs again the locked way.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import asyncpg
import msgspec

from backend.errors import MemberNotFound
from backend.loyalty.schemas import Balance
from backend.ops.metrics import count_ledger_entries
from backend.streams.member import MEMBERS
from backend.streams.stream import Event
from db import sql
from db.deferred import DeferredWrites
from db.ids import new_id
from db.tables import Account


@dataclass(frozen=True, slots=True)
class LockedAccount:
    id: uuid.UUID
    member_id: uuid.UUID
    tier: str
    balance: Balance
    # Read without a lock at this member-stream seq: the change is written only if the
    # account is still there (None: the row is locked by the caller's transaction).
    read_at_seq: int | None = None


class AccountMoved(Exception):
    """An account read without a lock moved before the change was posted: nothing of the
    change was written; read again under the lock."""


# SQLSTATE of account_unmoved's refusal (migration db_2026_12_07t22_12_41_000000).
ACCOUNT_MOVED = "AC409"


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


# The balance is the account's columns of the same names.
_BALANCE_COLUMNS = [getattr(Account, name) for name in Balance.__struct_fields__]


async def lock_account(member_id: uuid.UUID) -> LockedAccount:
    """Lock the member's account row for the rest of the transaction (FOR UPDATE).

    Every change to a member's points starts here, so changes to one account are serialized
    and two accounts are never locked by one transaction (no lock-order deadlocks).
    """
    row = (
        await Account.select(Account.id, *_BALANCE_COLUMNS, Account.member.tier)
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
        balance=msgspec.convert(row, Balance),
    )


_POST = (
    """
entries AS (
    INSERT INTO ledger_entry (id, account, kind, available_delta, pending_delta, held_delta,
                              cause_type, cause_id, note, created_at)
    SELECT e.id, {account_id}, e.kind, e.available, e.pending, e.held, e.cause_type,
           e.cause_id, e.note, {at}
    FROM unnest({ids}::uuid[], {kinds}::text[], {available_deltas}::bigint[],
                {pending_deltas}::bigint[], {held_deltas}::bigint[], {cause_types}::text[],
                {cause_ids}::uuid[], {notes}::text[])
         AS e(id, kind, available, pending, held, cause_type, cause_id, note)
), moved AS (
    UPDATE account SET available = available + {available}, pending = pending + {pending},
                       held = held + {held}, lifetime_earned = lifetime_earned + {earned},
                       last_event_seq = last_event_seq + {event_count}
    WHERE id = {account_id}
      AND ({read_at_seq}::bigint IS NULL OR last_event_seq = {read_at_seq}::bigint)
    RETURNING available, pending, held, last_event_seq
), """  # noqa: S608 (fixed fragments, bound values)
    + MEMBERS.insert("events", numbered="moved")
    + """
SELECT account_unmoved(count(*) = 1), max(available) AS available, max(pending) AS pending,
       max(held) AS held, max(last_event_seq) AS last_event_seq
FROM moved
"""
)
# The aggregate makes one row whatever ``moved`` holds, so the guard always runs: no moved
# row (an account read without a lock that moved since) fails the statement, and with it
# every row the statement carries.


@lru_cache(maxsize=256)
def _post_statement(with_items: str) -> str:
    """``_POST`` after the deferred writes' WITH items: built once per set of items (which
    ``db.deferred`` caches too), so ``db.sql`` finds its compiled form without hashing a
    new copy of the whole text on every post."""
    return "WITH " + with_items + _POST


@dataclass(frozen=True, slots=True)
class Posted:
    balance: Balance
    last_event_seq: int  # the member stream's, after the events


async def post(
    account: LockedAccount,
    entries: list[EntryDraft],
    events: list[Event],
    *,
    at: datetime,
    deferred: DeferredWrites | None = None,
) -> Posted:
    """Append ``entries``, move the cached balance by their sum and store ``events`` (type,
    data) with the member's next seqs, together with the ``deferred`` writes of the
    transaction: one statement, so one round trip per change.
    """
    for entry in entries:
        count_ledger_entries(entry.kind, entry.available_delta + entry.pending_delta)
    with_items, writes = deferred.prefix() if deferred else ("", {})
    try:
        rows = await _post(with_items, writes, account, entries, events, at=at)
    except asyncpg.PostgresError as exc:
        if exc.sqlstate == ACCOUNT_MOVED:
            raise AccountMoved(f"account {account.id} moved since it was read") from exc
        raise
    row = rows[0]
    return Posted(
        balance=msgspec.convert(row, Balance),
        last_event_seq=row["last_event_seq"],
    )


async def _post(
    with_items: str,
    writes: dict[str, object],
    account: LockedAccount,
    entries: list[EntryDraft],
    events: list[Event],
    *,
    at: datetime,
) -> Sequence[sql.Row]:
    available = sum(entry.available_delta for entry in entries)
    pending = sum(entry.pending_delta for entry in entries)
    held = sum(entry.held_delta for entry in entries)
    earned = sum(
        entry.available_delta + entry.pending_delta for entry in entries if entry.kind == "earn"
    )
    return await sql.fetch(
        _post_statement(with_items),
        **writes,
        account_id=account.id,
        read_at_seq=account.read_at_seq,
        at=at,
        ids=[e.id for e in entries],
        kinds=[e.kind for e in entries],
        available_deltas=[e.available_delta for e in entries],
        pending_deltas=[e.pending_delta for e in entries],
        held_deltas=[e.held_delta for e in entries],
        cause_types=[e.cause_type for e in entries],
        cause_ids=[e.cause_id for e in entries],
        notes=[e.note for e in entries],
        available=available,
        pending=pending,
        held=held,
        earned=earned,
        **MEMBERS.params(account.member_id, events, at=at),
    )
