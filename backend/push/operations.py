"""What operators see and do about the push queue: its figures for Prometheus (lag, pending,
dead letters) and the dead letters, listed and put back in line by an admin (as the
accounting outbox's are, ``backend.accounting.outbox``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec

from backend.deliveries.dead_letters import RetryResult, put_back_in_line
from backend.push import metrics
from db import sql

_FIGURES = """
SELECT MIN(next_attempt_at) FILTER (WHERE status = 'pending' AND next_attempt_at <= {now})
         AS oldest_due,
       COUNT(*) FILTER (WHERE status = 'pending') AS pending,
       COUNT(*) FILTER (WHERE status = 'dead') AS dead
FROM push_delivery WHERE status IN ('pending', 'dead')
"""
_DEAD = """
SELECT d.id, v.provider, d.member, d.collapse_key, d.notification->>'kind' AS kind,
       d.attempts, d.last_error, d.created_at
FROM push_delivery d JOIN member_device v ON v.id = d.device
WHERE d.status = 'dead' ORDER BY d.created_at LIMIT {limit}
"""
_LOCK = "SELECT status, attempts, last_error FROM push_delivery WHERE id = {id} FOR UPDATE"
_BACK_IN_LINE = (
    "UPDATE push_delivery SET status = 'pending', attempts = 0, next_attempt_at = {now} "
    "WHERE id = {id}"
)


async def sample_push_figures(*, now: datetime | None = None) -> None:
    """Set the queue's gauges; the lag is how long the oldest due push has been waiting."""
    now = now or datetime.now(UTC)
    (figures,) = await sql.fetch(_FIGURES, now=now)
    oldest = figures["oldest_due"]
    metrics.LAG.set((now - oldest).total_seconds() if oldest else 0.0)
    metrics.PENDING.set(figures["pending"])
    metrics.DEAD_LETTERS.set(figures["dead"])


class PushDeadLetter(msgspec.Struct, frozen=True):
    id: uuid.UUID
    provider: str
    member: uuid.UUID
    kind: str
    collapse_key: str
    attempts: int
    last_error: str | None
    created_at: datetime


class PushDeadLetterList(msgspec.Struct, frozen=True):
    items: list[PushDeadLetter]


async def list_push_dead_letters(*, limit: int = 100) -> PushDeadLetterList:
    rows = await sql.fetch(_DEAD, limit=limit)
    return PushDeadLetterList(items=[PushDeadLetter(**row) for row in rows])


async def retry_push_dead_letter(delivery_id: uuid.UUID) -> RetryResult:
    """Put a dead push back in line with a fresh attempt count (after the cause is fixed)."""
    return await put_back_in_line(
        delivery_id,
        lock=_LOCK,
        back=_BACK_IN_LINE,
        what="push delivery",
        action="push.retried",
        target_type="push_delivery",
    )
