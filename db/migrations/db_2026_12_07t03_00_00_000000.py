"""purchase.idempotency_key: a till's sale carries the key it was asked with, so the sale
needs no idempotency record of its own (and no advisory lock: the unique constraint
``one_key_per_terminal`` refuses a second sale under the key). Moves the records that answer
with a till's purchase onto it (one key per purchase; a second key, from a till that retried
with a new one, stays a record); backwards, they become records again."""

from db.sql_migration import statements_migration

ID = "2026-12-07T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "purchase.idempotency_key: a till's sale carries its key (no idempotency record)"

FORWARDS_SQL = (
    "ALTER TABLE purchase ADD COLUMN IF NOT EXISTS idempotency_key character varying(255) NULL "
    "DEFAULT NULL",
    # The first key that answered with each till purchase moves onto it.
    """
    UPDATE purchase p SET idempotency_key = r.key
    FROM (
        SELECT DISTINCT ON (body_purchase) body_purchase, key FROM (
            SELECT k.key, k.created_at, k.id, p.id AS body_purchase
            FROM idempotency_record k
            JOIN purchase p ON k.scope = 'terminal:' || p.terminal::text
                AND k.response_status = 201
                AND k.response_body ->> 'purchase_id' = p.id::text
        ) answering
        ORDER BY body_purchase, created_at, id
    ) r
    WHERE p.id = r.body_purchase AND p.idempotency_key IS NULL
    """,
    """
    DELETE FROM idempotency_record k USING purchase p
    WHERE p.idempotency_key IS NOT NULL AND k.scope = 'terminal:' || p.terminal::text
      AND k.key = p.idempotency_key
    """,
    # Dropped first: the statements also run over a schema made from the table classes.
    "ALTER TABLE purchase DROP CONSTRAINT IF EXISTS one_key_per_terminal",
    "ALTER TABLE purchase ADD CONSTRAINT one_key_per_terminal UNIQUE (terminal, idempotency_key)",
)
BACKWARDS_SQL = (
    """
    INSERT INTO idempotency_record (id, scope, key, request_hash, response_status,
                                    response_body, created_at)
    SELECT gen_random_uuid(), 'terminal:' || terminal::text, idempotency_key, request_hash, 201,
           result, created_at
    FROM purchase WHERE idempotency_key IS NOT NULL
    ON CONFLICT DO NOTHING
    """,
    "ALTER TABLE purchase DROP CONSTRAINT IF EXISTS one_key_per_terminal",
    "ALTER TABLE purchase DROP COLUMN IF EXISTS idempotency_key",
)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
