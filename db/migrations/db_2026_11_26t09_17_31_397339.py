"""Store events are facts like member events; the stats query needs sales by store and day."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T09:17:31:397339"
VERSION = "1.38.0"
DESCRIPTION = "store stream append only and sales index"

FORWARDS_SQL = (
    "CREATE TRIGGER store_event_append_only BEFORE UPDATE OR DELETE ON store_event"
    " FOR EACH ROW EXECUTE FUNCTION reject_change_to_append_only()",
    "CREATE INDEX purchase_store_day ON purchase (store, created_at)",
)
BACKWARDS_SQL = (
    "DROP INDEX IF EXISTS purchase_store_day",
    "DROP TRIGGER IF EXISTS store_event_append_only ON store_event",
)


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
