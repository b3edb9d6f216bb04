"""Sale updates that replace one another (issue #21): a waiting "points earned" push that a
newer sale's push took the place of is kept as ``status = 'replaced'`` (not deleted, so the
push feed, reading the sale again, does not queue it once more)."""

from db.sql_migration import statements_migration

ID = "2026-12-07T11:21:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "push_delivery: status replaced"

FORWARDS_SQL = (
    "ALTER TABLE push_delivery DROP CONSTRAINT IF EXISTS known_push_status",
    "ALTER TABLE push_delivery ADD CONSTRAINT known_push_status"
    " CHECK (status IN ('pending', 'delivered', 'dead', 'replaced'))",
)
BACKWARDS_SQL = (
    "ALTER TABLE push_delivery DROP CONSTRAINT IF EXISTS known_push_status",
    "ALTER TABLE push_delivery ADD CONSTRAINT known_push_status"
    " CHECK (status IN ('pending', 'delivered', 'dead'))",
)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
