"""Drop ``purchase_store_day``: nothing reads purchases by store and time since the store
figures became day counters, and it misled the planner on the sale's receipt check.

``one_per_receipt`` (store, external_id) is the index for "this store's receipt X". While
``purchase`` is young and not yet analysed the two indexes cost the same to the planner, and
the generic plan that asyncpg's prepared statement keeps for a connection's life took
``purchase_store_day``: every sale then read all of its store's purchases and filtered them by
receipt (seen with auto_explain in ``make bench``: 443 rows removed by the filter per sale after
ten seconds, growing with every sale). It also cost every sale one more index insert.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T16:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "drop the unused purchase_store_day index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        await engine_finder().run_ddl("DROP INDEX IF EXISTS purchase_store_day")

    async def run_backwards():
        await engine_finder().run_ddl(
            "CREATE INDEX IF NOT EXISTS purchase_store_day ON purchase (store, created_at)"
        )

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
