"""The outbox's open messages (pending and dead) in an index of their own.

Delivered messages are nearly all of the table and only grow (until the retention purge), but
the figures every process samples every few seconds and the dead-letter list read only the open
ones: with this partial index they cost what is open, not what was ever sent.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T00:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox_message_open: an index of the pending and dead messages only"

FORWARDS_SQL = (
    "CREATE INDEX IF NOT EXISTS outbox_message_open ON outbox_message (status, created_at)"
    " WHERE status IN ('pending', 'dead')",
)
BACKWARDS_SQL = ("DROP INDEX IF EXISTS outbox_message_open",)


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
