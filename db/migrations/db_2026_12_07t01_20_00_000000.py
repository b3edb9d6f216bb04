"""member.audit_salt: the salt of the seals that stand for a member's personal data on the
audit trail (``backend.audit.personal``); erasure clears it. Entries written before this
migration held the values themselves: they keep them until the trail's retention purge."""

from db.sql_migration import statements_migration

ID = "2026-12-07T01:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "member.audit_salt: personal data on the audit trail is sealed per member"

FORWARDS_SQL = (
    "ALTER TABLE member ADD COLUMN IF NOT EXISTS audit_salt character varying(32) NULL "
    "DEFAULT NULL",
)
BACKWARDS_SQL = ("ALTER TABLE member DROP COLUMN IF EXISTS audit_salt",)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
