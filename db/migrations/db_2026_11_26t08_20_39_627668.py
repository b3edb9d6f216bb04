"""Indexes for spending points oldest first and for the expiry and hold sweepers."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T08:20:39:627668"
VERSION = "1.38.0"
DESCRIPTION = "point lot indexes"

FORWARDS_SQL = (
    # Spending: a member's lots with points left, oldest expiry first.
    "CREATE INDEX point_lot_spendable ON point_lot (account, status, expires_at, created_at)"
    " WHERE remaining > 0",
    # Expiry sweeper: lots with points left whose time has come.
    "CREATE INDEX point_lot_expiring ON point_lot (expires_at) WHERE remaining > 0",
    # Pending release: lots still in their return window.
    "CREATE INDEX point_lot_releasing ON point_lot (available_at) WHERE status = 'pending'",
    # A purchase's own lot, for refunds.
    "CREATE INDEX point_lot_purchase ON point_lot (purchase) WHERE purchase IS NOT NULL",
    # Member history, newest first.
    "CREATE INDEX ledger_entry_history ON ledger_entry (account, id DESC)",
)

BACKWARDS_SQL = (
    "DROP INDEX IF EXISTS ledger_entry_history",
    "DROP INDEX IF EXISTS point_lot_purchase",
    "DROP INDEX IF EXISTS point_lot_releasing",
    "DROP INDEX IF EXISTS point_lot_expiring",
    "DROP INDEX IF EXISTS point_lot_spendable",
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
