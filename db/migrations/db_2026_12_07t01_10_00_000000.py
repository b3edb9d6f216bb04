"""Limits on one employee (issue #20): a store's maximum for one sale, and adjustments that
wait for a second staff member's approval.

Written by hand so that each statement may also run over tables that already exist (the
schema test builds the declared tables and then runs these).
"""

from db.sql_migration import statements_migration


ID = "2026-12-07T01:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "store.max_sale_amount, adjustment_approval"

FORWARDS_SQL = (
    'ALTER TABLE "store" ADD COLUMN IF NOT EXISTS "max_sale_amount" BIGINT DEFAULT null',
    'CREATE TABLE IF NOT EXISTS "adjustment_approval" ("id" UUID PRIMARY KEY NOT NULL,'
    ' "member" UUID NOT NULL REFERENCES "member" ("id") ON DELETE RESTRICT'
    ' ON UPDATE CASCADE DEFAULT null, "points" BIGINT NOT NULL DEFAULT 0,'
    ' "reason" VARCHAR(500) NOT NULL DEFAULT \'\', "requested_by" UUID NOT NULL'
    ' REFERENCES "staff_user" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null,'
    " \"store_ids\" UUID[] NOT NULL DEFAULT '{}',"
    " \"exceeded\" VARCHAR(24) NOT NULL DEFAULT '',"
    ' "status" VARCHAR(16) NOT NULL DEFAULT \'pending\', "decided_by" UUID DEFAULT null,'
    ' "decided_at" TIMESTAMPTZ DEFAULT null,'
    ' "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)',
    'CREATE INDEX IF NOT EXISTS adjustment_approval_member ON "adjustment_approval"'
    ' USING btree ("member")',
    'CREATE INDEX IF NOT EXISTS adjustment_approval_created_at ON "adjustment_approval"'
    ' USING btree ("created_at")',
    """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'known_status'
                   AND conrelid = 'adjustment_approval'::regclass) THEN
        ALTER TABLE adjustment_approval
            ADD CONSTRAINT known_status CHECK (status IN ('pending', 'approved', 'rejected'));
    END IF;
END
$$
""",
)

BACKWARDS_SQL = (
    "DROP TABLE IF EXISTS adjustment_approval",
    "ALTER TABLE store DROP COLUMN IF EXISTS max_sale_amount",
)


forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
