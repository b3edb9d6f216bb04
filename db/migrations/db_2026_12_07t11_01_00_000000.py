"""The push queue (issue #21): push_delivery, one notification for one device, unique per
(device, collapse key), deleted with its device; push_feed_mark, how far the push feed has
read the member streams.

Written by hand so that each statement may also run over tables that already exist (the
schema test builds the declared tables and then runs these).
"""

from db.sql_migration import statements_migration

ID = "2026-12-07T11:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "push_delivery, push_feed_mark"

FORWARDS_SQL = (
    'CREATE TABLE IF NOT EXISTS "push_delivery" ("id" UUID PRIMARY KEY NOT NULL,'
    ' "device" UUID NOT NULL REFERENCES "member_device" ("id") ON DELETE CASCADE'
    ' ON UPDATE CASCADE DEFAULT null, "member" UUID NOT NULL DEFAULT null,'
    " \"collapse_key\" VARCHAR(100) NOT NULL DEFAULT '',"
    " \"notification\" JSONB NOT NULL DEFAULT '{}',"
    " \"status\" VARCHAR(12) NOT NULL DEFAULT 'pending',"
    ' "attempts" INTEGER NOT NULL DEFAULT 0,'
    ' "next_attempt_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,'
    ' "last_error" VARCHAR(500) DEFAULT null,'
    ' "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,'
    ' "delivered_at" TIMESTAMPTZ DEFAULT null)',
    'CREATE INDEX IF NOT EXISTS push_delivery_next_attempt_at ON "push_delivery"'
    ' USING btree ("next_attempt_at")',
    """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'one_per_device_and_key'
                   AND conrelid = 'push_delivery'::regclass) THEN
        ALTER TABLE push_delivery
            ADD CONSTRAINT one_per_device_and_key UNIQUE (device, collapse_key);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'known_push_status'
                   AND conrelid = 'push_delivery'::regclass) THEN
        ALTER TABLE push_delivery ADD CONSTRAINT known_push_status
            CHECK (status IN ('pending', 'delivered', 'dead'));
    END IF;
END
$$
""",
    'CREATE TABLE IF NOT EXISTS "push_feed_mark" ("name" VARCHAR(40) PRIMARY KEY NOT NULL'
    " DEFAULT '', \"read_until\" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)",
)

BACKWARDS_SQL = (
    "DROP TABLE IF EXISTS push_feed_mark",
    "DROP TABLE IF EXISTS push_delivery",
)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
