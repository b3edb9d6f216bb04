"""Not what an open WebSocket showed (issue #21): ``push_delivery.source_seq``, the seq of the
member-stream event a notification was made from (NULL for one that no stream event says,
such as points expiring or a birthday), and ``status = 'shown_live'``, a delivery not sent
because the device's open socket had already shown that event (docs/notifications.md)."""

from db.sql_migration import statements_migration

ID = "2026-12-07T12:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "push_delivery: source_seq, status shown_live"

FORWARDS_SQL = (
    "ALTER TABLE push_delivery ADD COLUMN IF NOT EXISTS source_seq BIGINT DEFAULT null",
    "ALTER TABLE push_delivery DROP CONSTRAINT IF EXISTS known_push_status",
    "ALTER TABLE push_delivery ADD CONSTRAINT known_push_status"
    " CHECK (status IN ('pending', 'delivered', 'dead', 'replaced', 'shown_live'))",
)
BACKWARDS_SQL = (
    "ALTER TABLE push_delivery DROP CONSTRAINT IF EXISTS known_push_status",
    # Before the status existed, a device that had it shown counted as told.
    "UPDATE push_delivery SET status = 'delivered' WHERE status = 'shown_live'",
    "ALTER TABLE push_delivery ADD CONSTRAINT known_push_status"
    " CHECK (status IN ('pending', 'delivered', 'dead', 'replaced'))",
    "ALTER TABLE push_delivery DROP COLUMN IF EXISTS source_seq",
)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
