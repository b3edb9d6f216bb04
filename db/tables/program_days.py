"""The whole program's figures at the end of each day, for the charts of liability and tiers."""

from __future__ import annotations

from piccolo.columns import JSONB, BigInt, Date, Timestamptz
from piccolo.table import Table


class ProgramDay(Table, tablename="program_day"):
    """The points the members hold (the chain's liability) and the members per tier, as the
    last snapshot of a UTC day found them (``backend.loyalty.program_days``, taken by the
    periodic jobs about hourly, so a day's row is its state within the hour before midnight).

    A chart then reads one row per day instead of summing a million accounts or the ledger.
    Days before the first snapshot are backfilled once from the ledger: their points only
    (``tiers`` NULL: the ledger does not say who was in which tier).
    """

    day = Date(primary_key=True, help_text="UTC date.")
    points_available = BigInt(default=0)
    points_pending = BigInt(default=0, help_text="Earned, still inside the return window.")
    points_held = BigInt(default=0, help_text="Reserved by open checkouts.")
    members = BigInt(null=True, default=None, help_text="NULL on a backfilled day.")
    tiers = JSONB(null=True, default=None, help_text='{"green": n, ...}; NULL when backfilled.')
    taken_at = Timestamptz()
