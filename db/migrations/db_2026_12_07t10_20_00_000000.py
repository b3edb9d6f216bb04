"""program_day: the chain's points liability and members per tier at the end of each UTC day,
snapshotted by the periodic jobs (``backend.loyalty.program_days``) so that their charts
read a row per day; and ledger_entry_campaign: a campaign's awards by day (its report) from
an index of the campaign entries only, never a scan of the ledger."""

from db.sql_migration import statements_migration

ID = "2026-12-07T10:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "program_day snapshots; ledger_entry_campaign: a campaign's awards"

FORWARDS_SQL = (
    'CREATE TABLE IF NOT EXISTS "program_day" ('
    '"day" DATE PRIMARY KEY NOT NULL DEFAULT CURRENT_DATE, '
    '"points_available" BIGINT NOT NULL DEFAULT 0, '
    '"points_pending" BIGINT NOT NULL DEFAULT 0, '
    '"points_held" BIGINT NOT NULL DEFAULT 0, '
    '"members" BIGINT DEFAULT null, '
    '"tiers" JSONB DEFAULT null, '
    '"taken_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)',
    "CREATE INDEX IF NOT EXISTS ledger_entry_campaign ON ledger_entry (cause_id, created_at)"
    " WHERE cause_type = 'campaign'",
)
BACKWARDS_SQL = (
    "DROP INDEX IF EXISTS ledger_entry_campaign",
    'DROP TABLE IF EXISTS "program_day"',
)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
