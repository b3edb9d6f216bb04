"""A member's purchases by time in one index (issue #24): ``purchase_member_recent`` on
``(member, created_at)`` instead of Piccolo's ``purchase_member`` on ``(member)``.

Every sale, checkout and ``/v1/me`` reads the member's qualifying spend of the last year
(``p.member = {member} AND p.created_at > {since}``). With only the two one-column indexes, a
plan made without statistics of a growing table (a prepared statement's generic plan, or
autovacuum off: this machine's PostgreSQL) ANDed ``purchase_member`` with
``purchase_created_at``, reading the whole year's index of every member's purchases for each
sale: 390,000 index entries a second, and rising, in the third minute of the load test. One
index on both columns answers the read alone, whatever the planner knows, and serves every
lookup by member as the old one did; a sale still writes one index entry for it.
"""

from db.sql_migration import statements_migration

ID = "2026-12-07T13:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "purchase_member_recent (member, created_at) replaces purchase_member"

FORWARDS_SQL = (
    "CREATE INDEX IF NOT EXISTS purchase_member_recent ON purchase (member, created_at)",
    "DROP INDEX IF EXISTS purchase_member",
)
BACKWARDS_SQL = (
    "CREATE INDEX IF NOT EXISTS purchase_member ON purchase (member)",
    "DROP INDEX IF EXISTS purchase_member_recent",
)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
