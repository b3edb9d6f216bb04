"""The job fence: the newest fencing number of each lease (``backend.jobs.lease``)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T00:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "job_fence: stale holders of the scheduler's lease stop"

FORWARDS_SQL = (
    "CREATE TABLE IF NOT EXISTS job_fence ("
    " name character varying(40) DEFAULT '' NOT NULL PRIMARY KEY,"
    " fence bigint DEFAULT 0 NOT NULL)",
)
BACKWARDS_SQL = ("DROP TABLE IF EXISTS job_fence",)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        for statement in FORWARDS_SQL:
            await engine_finder().run_ddl(statement)

    async def run_backwards():
        for statement in BACKWARDS_SQL:
            await engine_finder().run_ddl(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
