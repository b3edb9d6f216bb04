"""The database a hot statement's plan is read on (``devkit.plans``): the real keys its
statements are explained against (``sample``), and the queues a busy chain has that a seeded
one lacks (``fill_queues``). The catalogue itself is ``devkit.hot_statements``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from devkit.hot_statements import Sample


async def sample(connection: Any, *, now: datetime) -> Sample:
    """A member with history from the middle of the chain (by id), and a purchase of theirs."""
    # The columns are named as Sample's fields.
    row = await connection.fetchrow(
        "SELECT m.id AS member_id, a.id AS account_id, m.card_number, p.store AS store_id,"
        " p.id AS purchase_id,"
        " (SELECT l.id FROM point_lot l WHERE l.account = a.id LIMIT 1) AS lot_id"
        " FROM member m JOIN account a ON a.member = m.id"
        " JOIN LATERAL (SELECT id, store FROM purchase WHERE member = m.id LIMIT 1) p ON true"
        " WHERE m.id >= (SELECT id FROM member ORDER BY id"
        "                OFFSET (SELECT COUNT(*) / 2 FROM member) LIMIT 1)"
        " ORDER BY m.id LIMIT 1"
    )
    return Sample(**row, now=now, day=now.date())


async def fill_queues(
    connection: Any,
    now: datetime,
    *,
    keys: int,
    documents: int,
    key_every_s: int = 1,
    document_every_min: int = 1,
) -> None:
    """What the purges and the outbox find on a busy chain (a seeded one has none):
    ``keys`` idempotency keys one every ``key_every_s`` back from ``now`` and ``documents``
    delivered accounting documents one every ``document_every_min`` back (the newest 99
    pending), ANALYZEd. Their plans
    change with the table's size: with ``IN (SELECT ...)`` a purge hash-joined its batch
    against a sequential scan from some 30,000 rows on."""
    await connection.execute(
        "INSERT INTO idempotency_record (id, scope, key, request_hash, response_status,"
        " response_body, created_at) SELECT gen_random_uuid(), 'queue', 'k' || n, '', 200,"
        " '{}'::jsonb, $1::timestamptz - n * make_interval(secs => $3::int)"
        " FROM generate_series(1, $2::int) n",
        now,
        keys,
        key_every_s,
    )
    await connection.execute(
        "INSERT INTO outbox_message (id, destination, kind, reference, business_date, payload,"
        " status, attempts, next_attempt_at, created_at, delivered_at)"
        " SELECT gen_random_uuid(), 'accounting', 'sale', 'queue',"
        " ($1::timestamptz - n * make_interval(mins => $3::int))::date, '{}'::jsonb,"
        " CASE WHEN n < 100 THEN 'pending' ELSE 'delivered' END, 1, $1, $1, $1"
        " FROM generate_series(1, $2::int) n",
        now,
        documents,
        document_every_min,
    )
    await connection.execute("ANALYZE idempotency_record")
    await connection.execute("ANALYZE outbox_message")
