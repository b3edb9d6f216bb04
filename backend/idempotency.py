"""Idempotency keys with Stripe's semantics, settled inside the caller's transaction.

``claim`` takes a transaction-scoped advisory lock on (caller, key): a second request with
the same key while the first runs gets 409 instead of waiting. The stored outcome is written
by ``remember`` in the same transaction as the work, so a crash leaves neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec

from backend.errors import IdempotencyKeyReused, IdempotentRequestInProgress, ValidationFailed
from db import sql
from db.deferred import DeferredWrites, write
from db.ids import new_id
from db.pool import engine
from db.tables import IdempotencyRecord
from realtime.publisher import Outgoing

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: Any


def request_fingerprint(canonical_body: bytes) -> str:
    return hashlib.sha256(canonical_body).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise ValidationFailed("the Idempotency-Key header is required for this request")
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters")
    return key


async def lock_key(*, scope: str, key: str) -> None:
    """Lock the key for this transaction, or refuse at once if another request holds it.

    Its own statement, before any read of the stored outcome: a read in the same statement
    would use a snapshot taken before the lock and could miss the holder's commit.
    """
    locked = await sql.fetch(
        "SELECT pg_try_advisory_xact_lock(hashtextextended({lock}, 0)) AS ok",
        lock=f"{scope}|{key}",  # scope never contains "|"
    )
    if not locked[0]["ok"]:
        raise IdempotentRequestInProgress("a request with this Idempotency-Key is in progress")


def stored_outcome(
    *, request_hash: str | None, status: int | None, body: Any, fingerprint: str
) -> StoredResponse | None:
    """The settled response of a key (None: not settled), refused for another request."""
    if request_hash is None or status is None:
        return None
    if request_hash != fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was already used with another request")
    return StoredResponse(status=status, body=body)


async def claim(*, scope: str, key: str, fingerprint: str) -> StoredResponse | None:
    """Lock the key for this transaction; return the stored response if it was settled."""
    await lock_key(scope=scope, key=key)
    row = (
        await IdempotencyRecord.select(
            IdempotencyRecord.request_hash,
            IdempotencyRecord.response_status,
            IdempotencyRecord.response_body,
        )
        .where((IdempotencyRecord.scope == scope) & (IdempotencyRecord.key == key))
        .first()
        .output(load_json=True)
    )
    if row is None:
        return None
    return stored_outcome(
        request_hash=row["request_hash"],
        status=row["response_status"],
        body=row["response_body"],
        fingerprint=fingerprint,
    )


_REMEMBER = """
INSERT INTO idempotency_record (id, scope, key, request_hash, response_status, response_body,
                                created_at)
VALUES ({id}, {scope}, {key}, {request_hash}, {response_status}, {response_body}::jsonb,
        {created_at})
"""


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    scope: str  # the caller, e.g. terminal:<id>
    key: str


async def remember(
    *,
    scope: str,
    key: str,
    fingerprint: str,
    response: StoredResponse,
    into: DeferredWrites | None = None,
) -> None:
    """Store the response of the key (with ``into``: with the transaction's last write)."""
    await write(
        _REMEMBER,
        into,
        id=new_id(),
        scope=scope,
        key=key,
        request_hash=fingerprint,
        response_status=response.status,
        response_body=msgspec.json.encode(response.body).decode(),
        created_at=datetime.now(UTC),
    )


# Oldest first through idempotency_record_created_at, a bounded batch per statement. The
# batch's ids go in as an array (``= ANY(ARRAY(...))``): with ``IN (SELECT ...)`` the planner
# hash-joined them against a sequential scan of the whole table (EXPLAIN on a 1M chain).
PURGE_BATCH = """
WITH gone AS (
    DELETE FROM idempotency_record WHERE id = ANY(ARRAY(
        SELECT id FROM idempotency_record WHERE created_at < {before}
        ORDER BY created_at LIMIT {batch}
    )) RETURNING 1
)
SELECT COUNT(*) AS purged FROM gone
"""


async def purge_records(*, before: datetime, batch: int = 5000, batches: int = 20) -> int:
    """Forget the answers of keys used before ``before`` (a periodic job), in bounded batches
    (no statement holds locks on a large part of the table; a backlog goes over the next
    runs); return how many."""
    purged = 0
    for _ in range(batches):
        rows = await sql.fetch(PURGE_BATCH, before=before, batch=batch)
        deleted = int(rows[0]["purged"])
        purged += deleted
        if deleted < batch:
            break
    return purged


Work = Callable[[], Awaitable[tuple[msgspec.Struct, list[Outgoing]]]]
R = TypeVar("R", bound=msgspec.Struct)


async def run_once(
    *,
    scope: str,
    key: str,
    fingerprint: str,
    work: Work,
    response_type: type[R],
    publish: Callable[[list[Outgoing]], Awaitable[bool]],
    status: int = 200,
) -> tuple[R, bool]:
    """Do ``work`` at most once per (scope, key), in one transaction with its record.

    ``work`` returns the response and the events it wrote; they are published after commit.
    Returns the response and whether it was a replay.
    """
    async with engine().transaction():
        stored = await claim(scope=scope, key=key, fingerprint=fingerprint)
        if stored is not None:
            return msgspec.convert(stored.body, response_type), True
        response, events = await work()
        await remember(
            scope=scope,
            key=key,
            fingerprint=fingerprint,
            response=StoredResponse(status=status, body=msgspec.to_builtins(response)),
        )
    await publish(events)
    assert isinstance(response, response_type)
    return response, False
