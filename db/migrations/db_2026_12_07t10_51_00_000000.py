"""partner_delivery_delivered: the feed's purge of deliveries delivered more than 30 days ago
reads them by this index, not by scanning every delivery (``backend.partners.feed``)."""

from db.sql_migration import statements_migration

ID = "2026-12-07T10:51:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "partner_delivery_delivered: the purge of old deliveries"

FORWARDS_SQL = (
    "CREATE INDEX IF NOT EXISTS partner_delivery_delivered ON partner_delivery"
    " USING btree (delivered_at) WHERE status = 'delivered'",
)
BACKWARDS_SQL = ("DROP INDEX IF EXISTS partner_delivery_delivered",)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
