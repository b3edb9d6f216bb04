"""Partner webhooks (issue #21): the endpoints admins register, the deliveries made to them
(queued per member in stream order), and how far the feed has read the member streams.

Written by hand so that each statement may also run over tables that already exist (the
schema test builds the declared tables and then runs these).
"""

from db.sql_migration import statements_migration

ID = "2026-12-07T10:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "partner_endpoint, partner_delivery, partner_feed_position, partner_feed_mark"

FORWARDS_SQL = (
    'CREATE TABLE IF NOT EXISTS "partner_endpoint" ("id" UUID PRIMARY KEY NOT NULL,'
    ' "url" VARCHAR(2000) NOT NULL DEFAULT \'\', "description" VARCHAR(200) NOT NULL'
    " DEFAULT '', \"event_types\" VARCHAR(40)[] NOT NULL DEFAULT '{}',"
    ' "secret" VARCHAR(100) NOT NULL DEFAULT \'\', "previous_secret" VARCHAR(100)'
    ' DEFAULT null, "previous_secret_until" TIMESTAMPTZ DEFAULT null,'
    ' "personal_data_allowed" BOOLEAN NOT NULL DEFAULT false,'
    ' "enabled" BOOLEAN NOT NULL DEFAULT true, "disabled_reason" VARCHAR(300) DEFAULT null,'
    ' "failing_since" TIMESTAMPTZ DEFAULT null,'
    ' "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,'
    ' "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)',
    'CREATE TABLE IF NOT EXISTS "partner_delivery" ("id" UUID PRIMARY KEY NOT NULL,'
    ' "endpoint" UUID NOT NULL REFERENCES "partner_endpoint" ("id") ON DELETE CASCADE'
    ' ON UPDATE CASCADE DEFAULT null, "member" UUID NOT NULL DEFAULT null,'
    ' "seq" BIGINT NOT NULL DEFAULT 0, "event" UUID NOT NULL DEFAULT null,'
    " \"type\" VARCHAR(40) NOT NULL DEFAULT '', \"payload\" JSONB NOT NULL DEFAULT '{}',"
    ' "status" VARCHAR(12) NOT NULL DEFAULT \'pending\', "attempts" INTEGER NOT NULL'
    ' DEFAULT 0, "next_attempt_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,'
    ' "last_status" INTEGER DEFAULT null, "last_error" VARCHAR(500) DEFAULT null,'
    ' "occurred_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,'
    ' "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,'
    ' "delivered_at" TIMESTAMPTZ DEFAULT null)',
    """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'one_per_event'
                   AND conrelid = 'partner_delivery'::regclass) THEN
        ALTER TABLE partner_delivery ADD CONSTRAINT one_per_event UNIQUE (endpoint, event);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'known_delivery_status'
                   AND conrelid = 'partner_delivery'::regclass) THEN
        ALTER TABLE partner_delivery
            ADD CONSTRAINT known_delivery_status CHECK (status IN ('pending', 'delivered'));
    END IF;
END
$$
""",
    # The worker's look for due deliveries, the head of each member's queue, and an
    # endpoint's newest deliveries first (the admin's list).
    "CREATE INDEX IF NOT EXISTS partner_delivery_due ON partner_delivery"
    " USING btree (next_attempt_at) WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS partner_delivery_queue ON partner_delivery"
    " USING btree (endpoint, member, seq) WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS partner_delivery_history ON partner_delivery"
    " USING btree (endpoint, id DESC)",
    'CREATE TABLE IF NOT EXISTS "partner_feed_position" ("member" UUID PRIMARY KEY NOT NULL'
    ' DEFAULT null, "seq" BIGINT NOT NULL DEFAULT 0)',
    'CREATE TABLE IF NOT EXISTS "partner_feed_mark" ("name" VARCHAR(40) PRIMARY KEY NOT NULL'
    " DEFAULT '', \"read_until\" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)",
)
BACKWARDS_SQL = (
    "DROP TABLE IF EXISTS partner_feed_mark",
    "DROP TABLE IF EXISTS partner_feed_position",
    "DROP TABLE IF EXISTS partner_delivery",
    "DROP TABLE IF EXISTS partner_endpoint",
)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
