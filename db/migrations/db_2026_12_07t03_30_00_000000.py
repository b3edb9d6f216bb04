"""member_above_green: the members the daily tier evaluation reads (only a member above green
can move down there; upgrades happen at the sale), so that its work is the number of gold and
platinum members rather than of all members (``backend.loyalty.tiers``)."""

from db.sql_migration import statements_migration

ID = "2026-12-07T03:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "member_above_green: the tier evaluation reads only members above green"

FORWARDS_SQL = (
    "CREATE INDEX IF NOT EXISTS member_above_green ON member USING btree (id)"
    " WHERE tier::text <> 'green'::text",
)
BACKWARDS_SQL = ("DROP INDEX IF EXISTS member_above_green",)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
