"""Stores and members keep time in their own zones (issue: the chain's clock).

Every store gets an IANA zone and the hour its business day starts; stores made before get
the program's zone (``ASTROCOFFEE_PROGRAM_TIME_ZONE``, as the service reads it). Every member
gets a home zone: the zone of the store of their first sale where there was one, otherwise
NULL, which reads as the program's zone until they choose one or buy somewhere.

Written by hand so that the existing rows are filled between adding a column and relying on
it; each statement may also run over tables that already have the columns (the schema test
builds the declared tables and then runs these).
"""

import os


from backend.local_time import is_zone
from backend.settings import Settings
from db.sql_migration import statements_migration

ID = "2026-12-07T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "time zones of stores and members, and the hour a store's business day starts"


def program_time_zone() -> str:
    """The zone the service would read from its environment (only a known zone's name, so
    it is safe to write into the statement)."""
    name = os.environ.get("ASTROCOFFEE_PROGRAM_TIME_ZONE") or Settings().program_time_zone
    if not is_zone(name):
        raise ValueError(f"ASTROCOFFEE_PROGRAM_TIME_ZONE: {name!r} is not an IANA zone")
    return name


FORWARDS_SQL = (
    "ALTER TABLE store ADD COLUMN IF NOT EXISTS time_zone character varying(64) NOT NULL "
    "DEFAULT ''",
    f"UPDATE store SET time_zone = '{program_time_zone()}' WHERE time_zone = ''",  # noqa: S608
    "ALTER TABLE store ADD COLUMN IF NOT EXISTS day_starts_at integer NOT NULL DEFAULT 0",
    """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'day_start_hour') THEN
        ALTER TABLE store ADD CONSTRAINT day_start_hour CHECK (day_starts_at BETWEEN 0 AND 6);
    END IF;
END
$$
""",
    "ALTER TABLE member ADD COLUMN IF NOT EXISTS time_zone character varying(64) NULL DEFAULT NULL",
    """
UPDATE member m SET time_zone = (
    SELECT s.time_zone FROM purchase p JOIN store s ON s.id = p.store
    WHERE p.member = m.id ORDER BY p.created_at LIMIT 1
) WHERE m.time_zone IS NULL
""",
)

BACKWARDS_SQL = (
    "ALTER TABLE member DROP COLUMN IF EXISTS time_zone",
    "ALTER TABLE store DROP CONSTRAINT IF EXISTS day_start_hour",
    "ALTER TABLE store DROP COLUMN IF EXISTS day_starts_at",
    "ALTER TABLE store DROP COLUMN IF EXISTS time_zone",
)


forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
