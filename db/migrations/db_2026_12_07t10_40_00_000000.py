"""campaign_telling: a targeted campaign's audience told in batches of members, with the
batch reached saved in the batch's own transaction (``backend.campaigns.telling``), so a
campaign's start or end tells a chain of any size exactly once per member."""

from db.sql_migration import statements_migration

ID = "2026-12-07T10:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "campaign_telling: a campaign's audience told in batches, with saved progress"

FORWARDS_SQL = (
    'CREATE TABLE IF NOT EXISTS "campaign_telling" ("id" UUID PRIMARY KEY NOT NULL,'
    ' "campaign" UUID NOT NULL REFERENCES "campaign" ("id") ON DELETE RESTRICT'
    " ON UPDATE CASCADE DEFAULT null, \"type\" VARCHAR(40) NOT NULL DEFAULT '',"
    ' "data" JSONB NOT NULL DEFAULT \'{}\', "audience_at" TIMESTAMPTZ NOT NULL'
    ' DEFAULT current_timestamp, "reached" UUID DEFAULT null, "told" INTEGER NOT NULL'
    ' DEFAULT 0, "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,'
    ' "finished_at" TIMESTAMPTZ DEFAULT null)',
    "CREATE INDEX IF NOT EXISTS campaign_telling_campaign ON campaign_telling USING btree"
    " (campaign)",
    # The tellings still to do, oldest first (ids are time-ordered), however many are done.
    "CREATE INDEX IF NOT EXISTS campaign_telling_unfinished ON campaign_telling USING btree"
    " (id) WHERE finished_at IS NULL",
)
BACKWARDS_SQL = ("DROP TABLE IF EXISTS campaign_telling",)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
