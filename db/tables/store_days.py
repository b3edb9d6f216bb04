"""A store's day figures, folded from the sales after they commit."""

from __future__ import annotations

from piccolo.columns import UUID, Array, BigInt, Date, Integer
from piccolo.constraints import Unique
from piccolo.table import Table

from db.ids import new_id
from db.tables.members import Member
from db.tables.references import reference
from db.tables.stores import Store


class StoreDay(Table, tablename="store_day"):
    """A store's running figures for one business day (its local date in its zone, from its
    ``day_starts_at`` hour), moved by the sales folded after commit
    (``backend.stores.folding``) and by refunds (a refund: its sale's day).

    Kept as counters so that a batch of sales costs one upsert instead of a scan of the
    day's sales.
    """

    id = UUID(primary_key=True, default=new_id)
    store = reference(Store)
    day = Date()
    sales = BigInt(default=0)
    sales_amount = BigInt(default=0, help_text="Paid, minor units.")
    points_earned = BigInt(default=0)
    points_redeemed = BigInt(default=0)
    points_reversed = BigInt(default=0, help_text="Taken back by refunds of the day's sales.")
    refunded_amount = BigInt(default=0, help_text="Paid share refunded of the day's sales.")
    active_members = BigInt(default=0)
    new_members = BigInt(default=0, help_text="Active members who joined that day.")

    one_per_store_day = Unique(["store", "day"])


class StoreDayMember(Table, tablename="store_day_member"):
    """Who bought in a store on a day: makes ``StoreDay.active_members`` a counter."""

    id = UUID(primary_key=True, default=new_id)
    store = reference(Store)
    day = Date()
    member = reference(Member)

    one_per_store_day_member = Unique(["store", "day", "member"])


class StoreFiguresMark(Table, tablename="store_figures_mark"):
    """How far the committed sales are folded into the store figures (one row, id 1): every
    committed purchase whose ``feed_xid`` is below ``folded_below`` is counted, except those
    of the ``waiting`` transactions (running when the mark moved past them)."""

    id = Integer(primary_key=True)
    folded_below = BigInt(default=0, help_text="A transaction id (xid8 as a number).")
    waiting = Array(base_column=BigInt(), help_text="Transaction ids, each below the mark.")
