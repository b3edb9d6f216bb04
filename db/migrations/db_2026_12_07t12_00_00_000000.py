"""The push feed reads the member streams past a position per member (issue #21), as the
partner feed does: push_feed_position, the seq of the newest event of a member's stream that
the push feed has read (``backend.deliveries.feed``).

Written by hand so that the statement may also run over a table that already exists (the
schema test builds the declared tables and then runs these).
"""

from db.sql_migration import statements_migration

ID = "2026-12-07T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "push_feed_position"

FORWARDS_SQL = (
    'CREATE TABLE IF NOT EXISTS "push_feed_position" ("member" UUID PRIMARY KEY NOT NULL'
    ' DEFAULT null, "seq" BIGINT NOT NULL DEFAULT 0)',
)
BACKWARDS_SQL = ("DROP TABLE IF EXISTS push_feed_position",)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
