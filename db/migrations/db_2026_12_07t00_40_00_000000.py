"""Members' rights and staff accountability (issue #20): the audit trail, per-account staff
login lockout, blocked (lost) card numbers and the history of marketing consent.

The audit trail is append-only like the ledger, with one exception: the retention purge
(``backend.audit.retention``). Its trigger rejects every UPDATE, and a DELETE unless the
transaction has named a purge cutoff (``SET LOCAL astrocoffee.audit_purge_before``) that
the row is older than, and the row is also older than 30 days by the database's own clock.
So the application can remove only what retention removes, and even code that sets the
variable (a bug, an injected statement) cannot touch the last month's rows: the ones that
tell what just happened. Consent history is plainly append-only.

Written by hand so that each statement may also run over tables that already exist (the
schema test builds the declared tables and then runs these).
"""

from db.sql_migration import statements_migration


ID = "2026-12-07T00:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit trail, staff login lockout, blocked cards, marketing consent"

# The newest rows no purge may delete, whatever the retention setting says.
MINIMUM_RETENTION = "30 days"
PURGE_CUTOFF_SETTING = "astrocoffee.audit_purge_before"

AUDIT_KEPT_FUNCTION = f"""
CREATE OR REPLACE FUNCTION keep_audit_entry() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND OLD.at < NULLIF(current_setting('{PURGE_CUTOFF_SETTING}', true), '')::timestamptz
       AND OLD.at < now() - interval '{MINIMUM_RETENTION}' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_entry is append-only: % rejected', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""

FORWARDS_SQL = (
    'CREATE TABLE IF NOT EXISTS "audit_entry" ("id" UUID PRIMARY KEY NOT NULL,'
    ' "at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp, "staff_id" UUID DEFAULT null,'
    ' "role" VARCHAR(16) DEFAULT null, "store_ids" UUID[] NOT NULL DEFAULT \'{}\','
    ' "action" VARCHAR(40) NOT NULL DEFAULT \'\', "target_type" VARCHAR(24) NOT NULL'
    ' DEFAULT \'\', "target_id" VARCHAR(64) DEFAULT null, "before" JSONB DEFAULT null,'
    ' "after" JSONB DEFAULT null, "request_id" VARCHAR(64) DEFAULT null,'
    ' "client_address" VARCHAR(64) DEFAULT null)',
    'CREATE INDEX IF NOT EXISTS audit_entry_at ON "audit_entry" USING btree ("at")',
    'CREATE INDEX IF NOT EXISTS audit_entry_staff_id ON "audit_entry" USING btree ("staff_id")',
    'CREATE INDEX IF NOT EXISTS audit_entry_action ON "audit_entry" USING btree ("action")',
    'CREATE INDEX IF NOT EXISTS audit_entry_target_id ON "audit_entry" USING btree ("target_id")',
    AUDIT_KEPT_FUNCTION,
    "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry",
    "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry"
    " FOR EACH ROW EXECUTE FUNCTION keep_audit_entry()",
    'ALTER TABLE "staff_user" ADD COLUMN IF NOT EXISTS "failed_logins" INTEGER NOT NULL DEFAULT 0',
    'ALTER TABLE "staff_user" ADD COLUMN IF NOT EXISTS "failures_since" TIMESTAMPTZ DEFAULT null',
    'ALTER TABLE "staff_user" ADD COLUMN IF NOT EXISTS "locked_until" TIMESTAMPTZ DEFAULT null',
    'CREATE TABLE IF NOT EXISTS "blocked_card" ("card_number" VARCHAR(16) PRIMARY KEY NOT NULL'
    ' DEFAULT \'\', "member" UUID NOT NULL REFERENCES "member" ("id") ON DELETE RESTRICT'
    ' ON UPDATE CASCADE DEFAULT null, "blocked_at" TIMESTAMPTZ NOT NULL'
    ' DEFAULT current_timestamp, "blocked_by" UUID DEFAULT null)',
    'CREATE INDEX IF NOT EXISTS blocked_card_member ON "blocked_card" USING btree ("member")',
    'CREATE TABLE IF NOT EXISTS "marketing_consent" ("id" UUID PRIMARY KEY NOT NULL,'
    ' "member" UUID NOT NULL REFERENCES "member" ("id") ON DELETE RESTRICT ON UPDATE CASCADE'
    ' DEFAULT null, "channel" VARCHAR(8) NOT NULL DEFAULT \'\', "given" BOOLEAN NOT NULL'
    ' DEFAULT false, "source" VARCHAR(16) NOT NULL DEFAULT \'\', "staff_id" UUID'
    ' DEFAULT null, "at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)',
    """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'known_channel') THEN
        ALTER TABLE marketing_consent
            ADD CONSTRAINT known_channel CHECK (channel IN ('push', 'sms', 'email'));
    END IF;
END
$$
""",
    # Consent is history: the newest row per channel is the state, older rows are proof.
    "DROP TRIGGER IF EXISTS marketing_consent_append_only ON marketing_consent",
    "CREATE TRIGGER marketing_consent_append_only BEFORE UPDATE OR DELETE ON marketing_consent"
    " FOR EACH ROW EXECUTE FUNCTION reject_change_to_append_only()",
)

BACKWARDS_SQL = (
    "DROP TABLE IF EXISTS marketing_consent",
    "DROP TABLE IF EXISTS blocked_card",
    "ALTER TABLE staff_user DROP COLUMN IF EXISTS locked_until",
    "ALTER TABLE staff_user DROP COLUMN IF EXISTS failures_since",
    "ALTER TABLE staff_user DROP COLUMN IF EXISTS failed_logins",
    "DROP TABLE IF EXISTS audit_entry",
    "DROP FUNCTION IF EXISTS keep_audit_entry()",
)


forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
