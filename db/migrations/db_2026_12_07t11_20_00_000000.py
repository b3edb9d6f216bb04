"""Quiet hours (issue #21): a member's notification settings gain the local clock times
between which push waits (minutes after local midnight; 22:00-08:00 by default, equal times:
no quiet hours). Added to tables that already exist, so each statement may run again."""

from db.sql_migration import statements_migration

ID = "2026-12-07T11:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "notification_settings: quiet_from, quiet_until"

FORWARDS_SQL = (
    "ALTER TABLE notification_settings"
    " ADD COLUMN IF NOT EXISTS quiet_from INTEGER NOT NULL DEFAULT 1320",
    "ALTER TABLE notification_settings"
    " ADD COLUMN IF NOT EXISTS quiet_until INTEGER NOT NULL DEFAULT 480",
)
BACKWARDS_SQL = (
    "ALTER TABLE notification_settings DROP COLUMN IF EXISTS quiet_until",
    "ALTER TABLE notification_settings DROP COLUMN IF EXISTS quiet_from",
)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
