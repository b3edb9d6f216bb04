"""The job fence: the newest fencing number of each lease (``backend.jobs.lease``)."""

from db.sql_migration import statements_migration


ID = "2026-12-07T00:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "job_fence: stale holders of the scheduler's lease stop"

FORWARDS_SQL = (
    "CREATE TABLE IF NOT EXISTS job_fence ("
    " name character varying(40) DEFAULT '' NOT NULL PRIMARY KEY,"
    " fence bigint DEFAULT 0 NOT NULL)",
)
BACKWARDS_SQL = ("DROP TABLE IF EXISTS job_fence",)


forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
