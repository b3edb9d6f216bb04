"""Broadcast events are facts too (see the ledger's append-only migration)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T09:28:33:387106"
VERSION = "1.38.0"
DESCRIPTION = "broadcast events append only"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        await engine_finder().run_ddl(
            "CREATE TRIGGER broadcast_event_append_only BEFORE UPDATE OR DELETE ON broadcast_event"
            " FOR EACH ROW EXECUTE FUNCTION reject_change_to_append_only()"
        )

    async def run_backwards():
        await engine_finder().run_ddl(
            "DROP TRIGGER IF EXISTS broadcast_event_append_only ON broadcast_event"
        )

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
