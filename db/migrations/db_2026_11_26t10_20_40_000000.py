"""The worker's query for due outbox messages reads only this small partial index."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T10:20:40:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox due index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        await engine_finder().run_ddl(
            "CREATE INDEX outbox_message_due ON outbox_message (next_attempt_at)"
            " WHERE status = 'pending'"
        )

    async def run_backwards():
        await engine_finder().run_ddl("DROP INDEX IF EXISTS outbox_message_due")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
