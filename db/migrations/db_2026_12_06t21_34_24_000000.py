"""What the tables cannot declare: append-only guards on the event and ledger tables, the
partial and ordered indexes the hot queries read, and no database default for ids.

Written by hand (Piccolo's auto migrations know columns, column indexes and constraints only).
``tests/db/test_migrations.py`` checks that every object made here exists after migrating.
"""

from db.sql_migration import statements_migration


ID = "2026-12-06T21:34:24:000000"
VERSION = "1.38.0"
DESCRIPTION = "append-only triggers, partial and ordered indexes, ids without a default"

# Ledger entries and member, store and broadcast events are facts: UPDATE and DELETE are
# rejected in the database itself. A correction is a new, reversing entry; a bug or a stray
# psql session must not be able to rewrite history. TRUNCATE (not a row operation) stays
# possible for test isolation.
APPEND_ONLY_FUNCTION = """
CREATE FUNCTION reject_change_to_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % rejected', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""
APPEND_ONLY_TABLES = ("ledger_entry", "member_event", "store_event", "broadcast_event")

INDEXES = {
    # Spending: a member's lots with points left, oldest expiry first.
    "point_lot_spendable": "point_lot (account, status, expires_at, created_at)"
    " WHERE remaining > 0",
    # Expiry sweeper: lots with points left whose time has come.
    "point_lot_expiring": "point_lot (expires_at) WHERE remaining > 0",
    # Pending release: lots still in their return window.
    "point_lot_releasing": "point_lot (available_at) WHERE status = 'pending'",
    # A purchase's own lot, for refunds.
    "point_lot_purchase": "point_lot (purchase) WHERE purchase IS NOT NULL",
    # Member history, newest first.
    "ledger_entry_history": "ledger_entry (account, id DESC)",
    # The relay looks at the member events of the last couple of minutes.
    "member_event_recent": "member_event (created_at)",
    # The worker's query for due outbox messages reads only this small index.
    "outbox_message_due": "outbox_message (next_attempt_at) WHERE status = 'pending'",
}

# Ids are time-ordered UUIDs made by the application (db.ids.new_id). Piccolo writes a
# callable default into a migration as the one value it returned when the migration was
# made, so every id column had that fixed UUID as its database default: a hand-written INSERT
# that forgot the id would work once and then collide. Without a default it fails at once.
NO_FIXED_ID_DEFAULTS = """
DO $$
DECLARE fixed record;
BEGIN
    FOR fixed IN
        SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = current_schema() AND data_type = 'uuid'
          AND column_default LIKE '''%''::uuid'
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I DROP DEFAULT',
                       fixed.table_name, fixed.column_name);
    END LOOP;
END
$$
"""

FORWARDS_SQL = (
    NO_FIXED_ID_DEFAULTS,
    APPEND_ONLY_FUNCTION,
    *(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION reject_change_to_append_only()"
        for table in APPEND_ONLY_TABLES
    ),
    *(f"CREATE INDEX {name} ON {target}" for name, target in INDEXES.items()),
)

BACKWARDS_SQL = (
    *(f"DROP INDEX IF EXISTS {name}" for name in reversed(INDEXES)),
    *(
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"
        for table in reversed(APPEND_ONLY_TABLES)
    ),
    "DROP FUNCTION IF EXISTS reject_change_to_append_only()",
)


forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
