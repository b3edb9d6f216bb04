"""A sale written in one statement without a lock held across round trips (issue #24):
``account_unmoved`` fails the statement that posts a change, with SQLSTATE ``AC409``, when
the account it read without a lock has moved since (``backend.loyalty.ledger.post``). A
statement is atomic, so its ledger entries, events and every other row it carries are
undone with it, and the sale runs again the locked way."""

from db.sql_migration import statements_migration

ID = "2026-12-07T13:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "account_unmoved: the guard of a change posted without a lock"

FORWARDS_SQL = (
    """
CREATE OR REPLACE FUNCTION account_unmoved(unmoved boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT unmoved THEN
        RAISE EXCEPTION 'the account moved since it was read' USING ERRCODE = 'AC409';
    END IF;
    RETURN true;
END
$$
""",
)
BACKWARDS_SQL = ("DROP FUNCTION IF EXISTS account_unmoved(boolean)",)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
