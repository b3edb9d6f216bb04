"""What the tables cannot declare: append-only guards on the ledger, the event tables, the
audit trail and the consent history, the guard of a change posted without a lock, the
partial and ordered indexes the hot queries read, the default that stamps each purchase with
its transaction, and no database default for ids.

Written by hand (Piccolo's auto migrations know columns, column indexes and constraints
only). ``tests/db/test_migrations.py`` checks that the migrated schema equals the tables'
declared schema plus these statements, and that every index and trigger named here exists.
"""

from db.sql_migration import statements_migration

ID = "2026-12-07T22:12:41:000000"
VERSION = "1.38.0"
DESCRIPTION = "append-only triggers, the unmoved-account guard, hand-written indexes, id defaults"

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

# Ledger entries, member, store and broadcast events and consent history (the newest row
# per channel is the member's consent; older rows are the proof) are facts: UPDATE and DELETE
# are rejected in the database itself. A correction is a new, reversing entry; a bug or a
# stray psql session must not be able to rewrite history. TRUNCATE (not a row operation)
# stays possible for test isolation.
APPEND_ONLY_FUNCTION = """
CREATE FUNCTION reject_change_to_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % rejected', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""
APPEND_ONLY_TABLES = ("ledger_entry", "member_event", "store_event", "broadcast_event")
APPEND_ONLY_TABLES += ("marketing_consent",)

# The audit trail is append-only too, but for the retention purge (backend.audit.retention):
# a DELETE passes only when the transaction has named a purge cutoff (SET LOCAL
# astrocoffee.audit_purge_before) that the row is older than, and the row is also older
# than 30 days by the database's own clock. So the application removes only what retention
# removes, and even code that sets the variable (a bug, an injected statement) cannot touch
# the last month's rows: the ones that tell what just happened.
MINIMUM_RETENTION = "30 days"
PURGE_CUTOFF_SETTING = "astrocoffee.audit_purge_before"
AUDIT_KEPT_FUNCTION = f"""
CREATE FUNCTION keep_audit_entry() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND OLD.at < NULLIF(current_setting('{PURGE_CUTOFF_SETTING}', true), '')::timestamptz
       AND OLD.at < now() - interval '{MINIMUM_RETENTION}' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_entry is append-only: % rejected', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""

# A change posted without the account's lock (backend.loyalty.ledger) guards its write
# with this: when the account moved since it was read, the whole statement fails with
# SQLSTATE AC409 and the change is made again from a fresh read.
ACCOUNT_UNMOVED_FUNCTION = """
CREATE FUNCTION account_unmoved(unmoved boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT unmoved THEN
        RAISE EXCEPTION 'the account moved since it was read' USING ERRCODE = 'AC409';
    END IF;
    RETURN true;
END
$$
"""

# Each purchase carries the id of the transaction that wrote it, so the store figures are
# folded after commit in transaction order (backend.stores.folding). A column default, so
# no INSERT can forget it.
PURCHASE_FEED_XID = (
    "ALTER TABLE purchase ALTER COLUMN feed_xid SET DEFAULT (pg_current_xact_id()::text::bigint)"
)

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
    # A campaign's awards (its report and forecast).
    "ledger_entry_campaign": "ledger_entry (cause_id, created_at) WHERE cause_type = 'campaign'",
    # The relay looks at the member events of the last couple of minutes.
    "member_event_recent": "member_event (created_at)",
    # The worker's query for due outbox messages reads only this small index.
    "outbox_message_due": "outbox_message (next_attempt_at) WHERE status = 'pending'",
    # Delivered messages are nearly all of the table, but the figures every process samples
    # and the dead-letter list read only the open ones.
    "outbox_message_open": "outbox_message (status, created_at)"
    " WHERE status IN ('pending', 'dead')",
    # The daily tier evaluation: only a member above green can move down there (upgrades
    # happen at the sale), so its work is the number of gold and platinum members.
    "member_above_green": "member (id) WHERE tier::text <> 'green'::text",
    # Birthday campaigns find today's birthdays; reports count enrolments by day.
    "member_birthday": "member ((EXTRACT(MONTH FROM birth_date)), (EXTRACT(DAY FROM birth_date)))"
    " WHERE birth_date IS NOT NULL",
    "member_enrolled": "member (created_at)",
    # A member's consent per channel: the newest row first.
    "marketing_consent_latest": "marketing_consent (member, channel, at DESC, id DESC)",
    # A member's year of spend (every sale, checkout and /v1/me) in one index range; with
    # the member alone PostgreSQL ANDed in the created_at index and read every recent sale
    # of the chain (issue #24).
    "purchase_member_recent": "purchase (member, created_at)",
    # The use of a campaign counted at a sale: the member's offer rows without a coupon.
    "member_offer_use": "member_offer (member, campaign) WHERE coupon_code IS NULL",
    # The tellings still to do, oldest first (ids are time-ordered), however many are done.
    "campaign_telling_unfinished": "campaign_telling (id) WHERE finished_at IS NULL",
    # The partner worker's due deliveries, the head of each member's queue, an endpoint's
    # newest deliveries first (the admin's list), and the purge of delivered ones.
    "partner_delivery_due": "partner_delivery (next_attempt_at) WHERE status = 'pending'",
    "partner_delivery_queue": "partner_delivery (endpoint, member, seq) WHERE status = 'pending'",
    "partner_delivery_history": "partner_delivery (endpoint, id DESC)",
    "partner_delivery_delivered": "partner_delivery (delivered_at) WHERE status = 'delivered'",
}

FORWARDS_SQL = (
    NO_FIXED_ID_DEFAULTS,
    APPEND_ONLY_FUNCTION,
    *(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION reject_change_to_append_only()"
        for table in APPEND_ONLY_TABLES
    ),
    AUDIT_KEPT_FUNCTION,
    "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry"
    " FOR EACH ROW EXECUTE FUNCTION keep_audit_entry()",
    ACCOUNT_UNMOVED_FUNCTION,
    PURCHASE_FEED_XID,
    *(f"CREATE INDEX {name} ON {target}" for name, target in INDEXES.items()),
)

BACKWARDS_SQL = (
    *(f"DROP INDEX IF EXISTS {name}" for name in reversed(INDEXES)),
    "ALTER TABLE purchase ALTER COLUMN feed_xid SET DEFAULT 0",
    "DROP FUNCTION IF EXISTS account_unmoved(boolean)",
    "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry",
    "DROP FUNCTION IF EXISTS keep_audit_entry()",
    *(
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"
        for table in reversed(APPEND_ONLY_TABLES)
    ),
    "DROP FUNCTION IF EXISTS reject_change_to_append_only()",
)


forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
