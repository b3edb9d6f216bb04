"""The outbox's open messages (pending and dead) in an index of their own.

Delivered messages are nearly all of the table and only grow (until the retention purge), but
the figures every process samples every few seconds and the dead-letter list read only the open
ones: with this partial index they cost what is open, not what was ever sent.
"""

from db.sql_migration import statements_migration


ID = "2026-12-07T00:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox_message_open: an index of the pending and dead messages only"

FORWARDS_SQL = (
    "CREATE INDEX IF NOT EXISTS outbox_message_open ON outbox_message (status, created_at)"
    " WHERE status IN ('pending', 'dead')",
)
BACKWARDS_SQL = ("DROP INDEX IF EXISTS outbox_message_open",)


forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
