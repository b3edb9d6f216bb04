"""Ledger entries and member events are facts: reject UPDATE and DELETE in the database itself.

A correction is a new, reversing entry; a bug or a stray psql session must not be able to
rewrite history. TRUNCATE stays possible for test isolation and is not a row operation.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T07:49:42:639067"
VERSION = "1.38.0"
DESCRIPTION = "ledger is append only"

FORWARDS_SQL = (
    """
CREATE OR REPLACE FUNCTION reject_change_to_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % rejected', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER ledger_entry_append_only
    BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION reject_change_to_append_only()
""",
    """
CREATE TRIGGER member_event_append_only
    BEFORE UPDATE OR DELETE ON member_event
    FOR EACH ROW EXECUTE FUNCTION reject_change_to_append_only()
""",
)

BACKWARDS_SQL = (
    "DROP TRIGGER IF EXISTS member_event_append_only ON member_event",
    "DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry",
    "DROP FUNCTION IF EXISTS reject_change_to_append_only()",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        # One statement per call: asyncpg prepares each, and a prepared statement is single.
        for statement in FORWARDS_SQL:
            await engine_finder().run_ddl(statement)

    async def run_backwards():
        for statement in BACKWARDS_SQL:
            await engine_finder().run_ddl(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
