"""Erasure of members' personal data (issue #20): ``member_erasure``, one row per member,
written in the transaction that replaces their personal data, so an erasure interrupted
after it (sessions in Redis, points a sale in flight added) is found and finished.

Written by hand so that each statement may also run over tables that already exist (the
schema test builds the declared tables and then runs these).
"""

from db.sql_migration import statements_migration


ID = "2026-12-07T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "member_erasure: erasures of members' personal data"

FORWARDS_SQL = (
    'CREATE TABLE IF NOT EXISTS "member_erasure" ("id" UUID PRIMARY KEY NOT NULL,'
    ' "member" UUID UNIQUE NOT NULL REFERENCES "member" ("id") ON DELETE RESTRICT'
    " ON UPDATE CASCADE DEFAULT null, \"source\" VARCHAR(8) NOT NULL DEFAULT '',"
    ' "requested_by" UUID DEFAULT null, "requested_at" TIMESTAMPTZ NOT NULL'
    ' DEFAULT current_timestamp, "points_forfeited" BIGINT NOT NULL DEFAULT 0,'
    ' "completed_at" TIMESTAMPTZ DEFAULT null)',
)
BACKWARDS_SQL = ('DROP TABLE IF EXISTS "member_erasure"',)


forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
