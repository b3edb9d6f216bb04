"""Index for the relay, which looks at the member events of the last couple of minutes."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T09:15:34:202573"
VERSION = "1.38.0"
DESCRIPTION = "member event recency index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        await engine_finder().run_ddl(
            "CREATE INDEX member_event_recent ON member_event (created_at)"
        )

    async def run_backwards():
        await engine_finder().run_ddl("DROP INDEX IF EXISTS member_event_recent")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
