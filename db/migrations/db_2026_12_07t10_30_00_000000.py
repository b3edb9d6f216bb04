"""product: the optional product catalogue (SKU -> name, category) that admins load from a
CSV file (``backend.products``). Backwards, the table goes; sales keep their own items."""

from db.sql_migration import statements_migration

ID = "2026-12-07T10:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "product: the product catalogue loaded by admins"

FORWARDS_SQL = (
    """
    CREATE TABLE IF NOT EXISTS product (
        sku character varying(200) PRIMARY KEY NOT NULL DEFAULT '',
        name character varying(200) NOT NULL DEFAULT '',
        category character varying(200) NOT NULL DEFAULT ''
    )
    """,
)
BACKWARDS_SQL = ("DROP TABLE IF EXISTS product",)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
