"""One batch of due deliveries, taken by one worker while others take other rows.

The kind's ``due`` statement selects due rows ``ORDER BY next_attempt_at LIMIT {batch} FOR
UPDATE ... SKIP LOCKED`` (parameters ``now`` and ``batch``); the transaction stays open while
they are sent, so several workers share the work without sending a row twice at the same
time, and a worker killed mid-batch leaves its rows pending (the transaction rolls back) for
the next one: at least once. The kind's receiver recognises a repeat (an Idempotency-Key, a
``webhook-id``, a collapse key)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from db import sql
from db.pool import engine

Outcome = TypeVar("Outcome")


class Carrier(Protocol[Outcome]):
    """What one kind of delivery does with a batch of its due rows."""

    async def send(self, rows: Sequence[sql.Row], now: datetime) -> Sequence[Outcome]:
        """Try every row at once; an outcome per row, in order (never raises for what a
        receiver answered)."""
        ...

    async def record(
        self, rows: Sequence[sql.Row], outcomes: Sequence[Outcome], now: datetime
    ) -> None:
        """Mark each row by its outcome (delivered, later, dead), in the batch's transaction."""
        ...


async def deliver_batch(
    due: str, carrier: Carrier[Outcome], *, batch_size: int, now: datetime | None = None
) -> int:
    """Send one batch of due rows; how many were taken. ``now`` (a test's clock) is when the
    rows are due and recorded; else the answers are recorded at the time they came."""
    async with engine().transaction():
        rows = await sql.fetch(due, now=now or datetime.now(UTC), batch=batch_size)
        if not rows:
            return 0
        outcomes = await carrier.send(rows, now or datetime.now(UTC))
        await carrier.record(rows, outcomes, now or datetime.now(UTC))
    return len(rows)
