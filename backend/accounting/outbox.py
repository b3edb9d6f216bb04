"""Delivering the outbox: at least once from here, exactly once at the receiver, on the
delivery pipeline's mechanics (``backend.deliveries``).

A batch of due messages is locked with ``FOR UPDATE SKIP LOCKED`` inside one transaction
that stays open while they are delivered, so several workers share the work without
delivering a message twice at the same time, and a worker killed mid-batch leaves its
messages pending (its transaction rolls back) for the next one. A message delivered but
not yet marked (the crash window) is delivered again with the same id, which the receiver
books once (its Idempotency-Key).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

import msgspec

from backend.accounting import metrics
from backend.accounting.client import AccountingClient, DeliveryFailed
from backend.deliveries.batch import deliver_batch
from backend.deliveries.dead_letters import RetryResult as RetryResult  # its routes answer it
from backend.deliveries.dead_letters import put_back_in_line
from backend.deliveries.policy import Backoff
from db import sql
from db.tables import OutboxMessage

log = logging.getLogger(__name__)

_DUE = (
    "SELECT id, payload::text AS payload, attempts FROM outbox_message "
    "WHERE status = 'pending' AND next_attempt_at <= {now} "
    "ORDER BY next_attempt_at LIMIT {batch} FOR UPDATE SKIP LOCKED"
)
_FIGURES = (
    "SELECT MIN(created_at) FILTER (WHERE status = 'pending') AS oldest, "
    "COUNT(*) FILTER (WHERE status = 'pending') AS pending, "
    "COUNT(*) FILTER (WHERE status = 'dead') AS dead "
    "FROM outbox_message WHERE status IN ('pending', 'dead')"
)
_LOCK = "SELECT status, attempts, last_error FROM outbox_message WHERE id = {id} FOR UPDATE"
_BACK_IN_LINE = (
    "UPDATE outbox_message SET status = 'pending', attempts = 0, next_attempt_at = {now} "
    "WHERE id = {id}"
)
# The accounting system's backoff is the pipeline's (``backend.deliveries.policy``).
DeliveryPolicy = Backoff


async def deliver_due(
    client: AccountingClient, policy: DeliveryPolicy, *, batch_size: int = 20
) -> int:
    """Deliver one batch of due messages; return how many were attempted."""
    return await deliver_batch(_DUE, _Documents(client, policy), batch_size=batch_size)


class _Documents:
    """The outbox as a ``Carrier``: each message booked by the accounting system."""

    def __init__(self, client: AccountingClient, policy: DeliveryPolicy) -> None:
        self._client = client
        self._policy = policy

    async def send(self, rows: Sequence[sql.Row], now: datetime) -> Sequence[str | DeliveryFailed]:
        return await asyncio.gather(
            *(_attempt(self._client, row["id"], row["payload"].encode()) for row in rows)
        )

    async def record(
        self, rows: Sequence[sql.Row], outcomes: Sequence[str | DeliveryFailed], now: datetime
    ) -> None:
        for row, outcome in zip(rows, outcomes, strict=True):
            await _record(row, outcome, self._policy, now)


async def _attempt(
    client: AccountingClient, message_id: uuid.UUID, payload: bytes
) -> str | DeliveryFailed:
    try:
        return await client.book(message_id, payload)
    except DeliveryFailed as failure:
        return failure


async def _record(
    row: sql.Row, outcome: str | DeliveryFailed, policy: DeliveryPolicy, now: datetime
) -> None:
    if isinstance(outcome, str):
        await OutboxMessage.update(
            {
                OutboxMessage.status: "delivered",
                OutboxMessage.acknowledgement: outcome,
                OutboxMessage.delivered_at: now,
                OutboxMessage.attempts: row["attempts"] + 1,
                OutboxMessage.last_error: None,
            }
        ).where(OutboxMessage.id == row["id"])
        metrics.DELIVERED.inc()
        return
    attempts = row["attempts"] + 1
    dead = not outcome.retryable or attempts >= policy.max_attempts
    metrics.FAILED_ATTEMPTS.labels(str(outcome.retryable).lower()).inc()
    log.warning(
        "outbox message %s not delivered (attempt %d)%s: %s",
        row["id"],
        attempts,
        ", now a dead letter" if dead else "",
        outcome,
    )
    await OutboxMessage.update(
        {
            OutboxMessage.status: "dead" if dead else "pending",
            OutboxMessage.attempts: attempts,
            OutboxMessage.last_error: str(outcome)[:500],
            OutboxMessage.next_attempt_at: now + policy.delay(attempts),
        }
    ).where(OutboxMessage.id == row["id"])


# The batch's ids as an array: with ``IN (SELECT ...)`` the planner hash-joined them against
# a sequential scan of the whole table (EXPLAIN with 1M messages, loadtests/explain_hot.py).
_PURGE_DELIVERED = """
DELETE FROM outbox_message WHERE id = ANY(ARRAY(
    SELECT id FROM outbox_message
    WHERE business_date < {before} AND status = 'delivered' LIMIT {batch}
)) RETURNING id
"""


async def purge_delivered(*, before: date, batch: int = 5000, batches: int = 20) -> int:
    """Forget delivered messages of business dates before ``before`` (past the retention: the
    accounting system keeps its own books; ``reconcile`` reads ours within it), in bounded
    batches so that no run holds locks on a large part of the table; return how many."""
    purged = 0
    for _ in range(batches):
        deleted = len(await sql.fetch(_PURGE_DELIVERED, before=before, batch=batch))
        purged += deleted
        if deleted < batch:
            break
    return purged


async def sample_outbox_figures(*, now: datetime | None = None) -> None:
    rows = await sql.fetch(_FIGURES)
    figures = rows[0]
    oldest = figures["oldest"]
    current = now or datetime.now(UTC)
    metrics.OUTBOX_LAG.set((current - oldest).total_seconds() if oldest else 0.0)
    metrics.OUTBOX_PENDING.set(figures["pending"])
    metrics.DEAD_LETTERS.set(figures["dead"])


class DeadLetter(msgspec.Struct, frozen=True):
    id: uuid.UUID
    destination: str
    kind: str
    reference: str
    business_date: str
    attempts: int
    last_error: str | None
    created_at: datetime


class DeadLetterList(msgspec.Struct, frozen=True):
    items: list[DeadLetter]


# A dead letter is the message's columns of the same names.
_DEAD_LETTER_COLUMNS = [getattr(OutboxMessage, name) for name in DeadLetter.__struct_fields__]


async def list_dead_letters(*, limit: int = 100) -> DeadLetterList:
    rows = (
        await OutboxMessage.select(*_DEAD_LETTER_COLUMNS)
        .where(OutboxMessage.status == "dead")
        .order_by(OutboxMessage.created_at)
        .limit(limit)
    )
    return DeadLetterList(
        items=[
            DeadLetter(**{**row, "business_date": row["business_date"].isoformat()}) for row in rows
        ]
    )


async def retry_dead_letter(message_id: uuid.UUID) -> RetryResult:
    """Put a dead letter back in line, with a fresh attempt count (after the fix)."""
    return await put_back_in_line(
        message_id,
        lock=_LOCK,
        back=_BACK_IN_LINE,
        what="outbox message",
        action="outbox.retried",
        target_type="outbox_message",
    )
