"""A purchase keeps its lines: ``purchase.lines`` (the check's items with the points each
earned) and ``purchase.refunded_lines`` (units of each SKU refunded so far), and a refund the
lines it named (``refund.lines``). On the purchase row itself, not a row per line: a sale
writes no more rows than before (``backend.sales.lines``)."""

from db.sql_migration import statements_migration

ID = "2026-12-07T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "purchase.lines, purchase.refunded_lines, refund.lines: a sale's items are kept"

FORWARDS_SQL = (
    "ALTER TABLE purchase ADD COLUMN IF NOT EXISTS lines JSONB NOT NULL DEFAULT '[]'",
    "ALTER TABLE purchase ADD COLUMN IF NOT EXISTS refunded_lines JSONB NOT NULL DEFAULT '{}'",
    "ALTER TABLE refund ADD COLUMN IF NOT EXISTS lines JSONB NOT NULL DEFAULT '[]'",
)
BACKWARDS_SQL = (
    "ALTER TABLE refund DROP COLUMN IF EXISTS lines",
    "ALTER TABLE purchase DROP COLUMN IF EXISTS refunded_lines",
    "ALTER TABLE purchase DROP COLUMN IF EXISTS lines",
)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
