"""Store figures leave the sale's transaction: ``purchase.feed_xid`` (the id of the
transaction that wrote the purchase) and ``store_figures_mark`` (how far committed purchases
are folded into the store figures, and the transactions still running below that,
``backend.stores.folding``).

The purchases already there were counted by their own transactions: they get ``feed_xid`` 0
and the mark starts at this migration's transaction, so only purchases written after it are
folded. (A serving process of the previous release still selling after this migration would
count its sales twice: stop them first.) Backwards, the column and the mark go; purchases
folded by then are in the figures like the others."""

from db.sql_migration import statements_migration

ID = "2026-12-07T03:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Store figures folded after commit: purchase.feed_xid and store_figures_mark"

FORWARDS_SQL = (
    "ALTER TABLE purchase ADD COLUMN IF NOT EXISTS feed_xid bigint NOT NULL DEFAULT 0",
    # New purchases carry their transaction's id (the column's default, so no INSERT can
    # forget it).
    "ALTER TABLE purchase ALTER COLUMN feed_xid SET DEFAULT (pg_current_xact_id()::text::bigint)",
    "CREATE INDEX IF NOT EXISTS purchase_feed_xid ON purchase (feed_xid)",
    """
    CREATE TABLE IF NOT EXISTS store_figures_mark (
        id integer PRIMARY KEY NOT NULL DEFAULT 0,
        folded_below bigint NOT NULL DEFAULT 0,
        waiting bigint[] NOT NULL DEFAULT '{}'
    )
    """,
    """
    INSERT INTO store_figures_mark (id, folded_below, waiting)
    VALUES (1, pg_current_xact_id()::text::bigint, '{}') ON CONFLICT (id) DO NOTHING
    """,
)
BACKWARDS_SQL = (
    "DROP TABLE IF EXISTS store_figures_mark",
    "DROP INDEX IF EXISTS purchase_feed_xid",
    "ALTER TABLE purchase DROP COLUMN IF EXISTS feed_xid",
)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
