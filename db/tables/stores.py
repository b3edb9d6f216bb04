"""Stores, their tills and the staff who work in them."""

from __future__ import annotations

from piccolo.columns import UUID, Array, BigInt, Boolean, Integer, Timestamptz, Varchar
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from db.ids import new_id
from db.tables.references import reference
from db.tables.streams import StreamEventColumns


class Store(Table, tablename="store"):
    id = UUID(primary_key=True, default=new_id)
    code = Varchar(length=32, unique=True, help_text="Short code printed on receipts.")
    name = Varchar(length=200)
    currency = Varchar(length=3, default="RUB", help_text="ISO 4217 currency of the till.")
    time_zone = Varchar(length=64, help_text="IANA zone of the store's clock and calendar.")
    day_starts_at = Integer(
        default=0, help_text="Local hour the business day starts (sales before it: the day before)."
    )
    last_event_seq = BigInt(default=0, help_text="Seq of the store stream's newest event.")
    max_sale_amount = BigInt(
        null=True, default=None, help_text="Largest amount of one sale; NULL: the program's."
    )
    created_at = Timestamptz()

    day_start_hour = Check("day_starts_at BETWEEN 0 AND 6")


class StoreEvent(StreamEventColumns, Table, tablename="store_event"):
    """Durable copy of every event on a store's staff stream (sales, live figures)."""

    store = reference(Store)
    seq = BigInt(help_text="1, 2, 3, ... per store, without gaps.")

    one_per_store_seq = Unique(["store", "seq"])


class Terminal(Table, tablename="terminal"):
    """A POS terminal or payment-system integration, scoped to one store."""

    id = UUID(primary_key=True, default=new_id)
    store = reference(Store)
    name = Varchar(length=200)
    key_prefix = Varchar(length=16, index=True, help_text="First characters of the key, shown.")
    key_hash = Varchar(length=64, unique=True, help_text="SHA-256 of the whole API key.")
    revoked_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class StaffUser(Table, tablename="staff_user"):
    """Baristas and managers work in the listed stores; admins run the whole chain."""

    id = UUID(primary_key=True, default=new_id)
    email = Varchar(length=254, unique=True, help_text="Lower-cased login.")
    name = Varchar(length=200)
    password_hash = Varchar(length=255, help_text="argon2id.")
    role = Varchar(length=16, help_text="barista, manager or admin.")
    store_ids = Array(UUID(), default=list, help_text="Stores a barista or manager works in.")
    active = Boolean(default=True)
    created_at = Timestamptz()
    failed_logins = Integer(default=0, help_text="Wrong passwords since failures_since.")
    failures_since = Timestamptz(
        null=True, default=None, help_text="The first wrong password of the current window."
    )
    locked_until = Timestamptz(
        null=True, default=None, help_text="Logins refused until then (an admin may unlock)."
    )

    known_role = Check("role IN ('barista', 'manager', 'admin')")
