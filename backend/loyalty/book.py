"""One change to one member's points, written as a whole.

``AccountChange`` is opened on a locked account inside a transaction, records what happens
(credits, spending, holds, reversals, expiry) as ledger entries and lot moves while keeping
the running balance, and ``finish`` writes the entries, the cached balance and the member
events in that same transaction. Every business operation on points is built from these
few verbs, so the ledger invariants live in one place.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from backend.errors import InsufficientPoints
from backend.loyalty.ledger import EntryDraft, LockedAccount, post
from backend.loyalty.lots import (
    TakenLots,
    add_lot,
    beyond_debt,
    empty_pending,
    give_back,
    take_oldest_first,
    trim,
)
from backend.loyalty.rules import ProgramRules
from backend.loyalty.schemas import Balance
from backend.streams.member import MEMBERS
from backend.streams.stream import Event
from db.deferred import DeferredWrites
from realtime.protocol import utc_now
from realtime.publisher import Outgoing


@dataclass(frozen=True, slots=True)
class Cause:
    type: str  # purchase, checkout, refund, staff, expiry, seed, ...
    id: uuid.UUID | None
    note: str = ""


class AccountChange:
    def __init__(self, account: LockedAccount, *, now: datetime) -> None:
        self.account = account
        self.now = now
        self.available = account.balance.available
        self.pending = account.balance.pending
        self.held = account.balance.held
        self.entries: list[EntryDraft] = []
        # The lots this change credits, written with ``finish``.
        self._lots = DeferredWrites()
        self._events: list[tuple[str, dict[str, Any]]] = []

    def _entry(
        self, kind: str, cause: Cause, *, available: int = 0, pending: int = 0, held: int = 0
    ) -> None:
        self.entries.append(
            EntryDraft(
                kind,
                cause.type,
                cause.id,
                available_delta=available,
                pending_delta=pending,
                held_delta=held,
                note=cause.note,
            )
        )
        self.available += available
        self.pending += pending
        self.held += held

    # -- credits ---------------------------------------------------------------------------
    async def earn(
        self, points: int, cause: Cause, rules: ProgramRules, purchase_id: uuid.UUID | None
    ) -> None:
        """Earned points: pending through the return window, or available at once."""
        if points <= 0:
            return
        expires_at = self.now + timedelta(days=rules.points_expire_after_days)
        if rules.return_window_days > 0:
            available_at = self.now + timedelta(days=rules.return_window_days)
            await add_lot(
                account_id=self.account.id,
                points=points,
                source="earn",
                status="pending",
                available_at=available_at,
                expires_at=expires_at + timedelta(days=rules.return_window_days),
                purchase_id=purchase_id,
                into=self._lots,
            )
            self._entry("earn", cause, pending=points)
            return
        await self._credit("earn", points, cause, expires_at=expires_at, purchase_id=purchase_id)

    async def credit(self, kind: str, points: int, cause: Cause, rules: ProgramRules) -> None:
        """Points given (a refund returning redeemed points, a staff adjustment)."""
        expires_at = self.now + timedelta(days=rules.points_expire_after_days)
        await self._credit(kind, points, cause, expires_at=expires_at, purchase_id=None)

    async def _credit(
        self,
        kind: str,
        points: int,
        cause: Cause,
        *,
        expires_at: datetime,
        purchase_id: uuid.UUID | None,
    ) -> None:
        if points <= 0:
            return
        for_lots = beyond_debt(self.available, points)
        if for_lots:
            await add_lot(
                account_id=self.account.id,
                points=points,
                remaining=for_lots,
                source=kind,
                status="available",
                available_at=self.now,
                expires_at=expires_at,
                purchase_id=purchase_id,
                into=self._lots,
            )
        self._entry(kind, cause, available=points)

    # -- spending --------------------------------------------------------------------------
    async def _take(self, points: int, *, first: uuid.UUID | None = None) -> TakenLots:
        if self._lots:
            # Lots credited by this change are written with ``finish``: spending after a
            # credit would not see them. No operation does; this keeps it that way.
            raise RuntimeError("points are spent after a credit in one AccountChange")
        return await take_oldest_first(self.account.id, points, first=first)

    def _require(self, points: int) -> None:
        if points > self.available:
            raise InsufficientPoints(
                f"{points} points requested, {max(self.available, 0)} available",
                available=max(self.available, 0),
            )

    async def redeem(self, points: int, cause: Cause) -> None:
        if points <= 0:
            return
        self._require(points)
        await self._take(points)
        self._entry("redeem", cause, available=-points)

    async def hold(self, points: int, cause: Cause) -> TakenLots:
        """Move points from available to held; return the lots they came from."""
        if points <= 0:
            return []
        self._require(points)
        taken = await self._take(points)
        self._entry("hold", cause, available=-points, held=points)
        return taken

    async def capture(self, points: int, cause: Cause) -> None:
        if points > 0:
            self._entry("capture", cause, held=-points)

    async def void(self, points: int, taken: TakenLots, cause: Cause) -> None:
        """Give held points back to the lots they were taken from (after any debt)."""
        if points <= 0:
            return
        await give_back(trim(taken, beyond_debt(self.available, points)))
        self._entry("void", cause, available=points, held=-points)

    # -- taking back -----------------------------------------------------------------------
    async def reverse_available(
        self, points: int, cause: Cause, first_lot: uuid.UUID | None
    ) -> None:
        """A refund takes back earned points; the balance may go below zero by this alone."""
        if points <= 0:
            return
        covered = min(points, max(self.available, 0))
        if covered:
            await self._take(covered, first=first_lot)
        self._entry("refund_reversal", cause, available=-points)

    def reverse_pending(self, points: int, cause: Cause) -> None:
        """Called with the pending lot already reduced by ``points``."""
        if points > 0:
            self._entry("refund_reversal", cause, pending=-points)

    def expire(self, points: int, cause: Cause) -> None:
        """Called with the lot already emptied of ``points``."""
        if points > 0:
            self._entry("expiry", cause, available=-points)

    def release(self, points: int, cause: Cause) -> int:
        """Pending points reach the end of the return window; return what is left for the lot
        after any debt."""
        for_lot = beyond_debt(self.available, points)
        self._entry("release", cause, pending=-points, available=points)
        return for_lot

    async def forfeit(self, cause: Cause) -> int:
        """Everything still to come to the member (an erased account): the available points
        and the pending ones, their lots emptied; a debt stays what it is. Return the points
        forfeited."""
        if self._lots:
            raise RuntimeError("points are forfeited after a credit in one AccountChange")
        available, pending = max(self.available, 0), self.pending
        if available:
            await self._take(available)
        if pending:
            await empty_pending(self.account.id)
        if available or pending:
            self._entry("forfeiture", cause, available=-available, pending=-pending)
        return available + pending

    async def adjust(self, points: int, cause: Cause, rules: ProgramRules) -> None:
        """A staff correction: positive credits a lot, negative spends oldest first and
        never takes the balance below zero."""
        if points > 0:
            await self.credit("adjustment", points, cause, rules)
        elif points < 0:
            self._require(-points)
            await self._take(-points)
            self._entry("adjustment", cause, available=points)

    # -- events and writing ----------------------------------------------------------------
    def event(self, type: str, data: dict[str, Any]) -> None:
        self._events.append((type, data))

    @property
    def balance(self) -> Balance:
        return Balance(available=self.available, pending=self.pending, held=self.held)

    async def finish(
        self, *, context: dict[str, Any], writes: DeferredWrites | None = None
    ) -> tuple[Balance, list[Outgoing]]:
        """Write entries, balance and events, and ``writes``: the caller's own rows whose
        results it never reads (a sale's purchase, a checkout's hold), in the same statement.
        Return the balance and the encoded events."""
        if writes:
            self._lots.extend(writes)
        if not self.entries and not self._events and not self._lots:
            return self.account.balance, []
        events: list[Event] = [
            ("transaction.created", _entry_data(entry, context)) for entry in self.entries
        ]
        events += self._events
        if self.entries:
            events.append(("balance.updated", {**msgspec.to_builtins(self.balance), **context}))
        at = utc_now()
        posted = await post(
            self.account,
            self.entries,
            events,
            at=at,
            deferred=self._lots,
        )
        # The account row was locked when this change began, so the balance kept here is
        # the one the database computed; a difference means a write bypassed the lock.
        if posted.balance != self.balance:
            raise RuntimeError(f"account {self.account.id}: {posted.balance} != {self.balance}")
        return posted.balance, MEMBERS.envelopes(
            self.account.member_id, events, last_event_seq=posted.last_event_seq, at=at
        )


def _entry_data(entry: EntryDraft, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "entry_id": str(entry.id),
        "kind": entry.kind,
        "points": entry.available_delta + entry.pending_delta,
        "available_delta": entry.available_delta,
        "pending_delta": entry.pending_delta,
        "held_delta": entry.held_delta,
        "cause_type": entry.cause_type,
        "cause_id": str(entry.cause_id) if entry.cause_id else None,
        "note": entry.note,
        **context,
    }
