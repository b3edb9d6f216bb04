"""The points ledger: entries, the lots points are spent from, the rules they were earned under."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, BigInt, Integer, Timestamptz, Varchar
from piccolo.constraints import Check
from piccolo.table import Table

from db.ids import new_id
from db.tables.members import Account
from db.tables.references import reference


class ProgramRules(Table, tablename="program_rules"):
    """Versions of the earning and spending rules; a purchase keeps the version it used."""

    version = Integer(primary_key=True)
    rules = JSONB(help_text="backend.loyalty.rules.ProgramRules, validated on write.")
    created_by = UUID(null=True, default=None, help_text="Staff user who published it.")
    created_at = Timestamptz()


class PointLot(Table, tablename="point_lot"):
    """Points of one credit (an earn, a return, an adjustment), spent oldest first.

    Invariants (checked by ``ledger verify``): the remaining points of a member's available
    lots add up to max(account.available, 0), of pending lots to account.pending.
    """

    id = UUID(primary_key=True, default=new_id)
    account = reference(Account)
    source = Varchar(length=24, help_text="earn, refund_return, adjustment, void, ...")
    purchase = UUID(null=True, default=None)
    points = BigInt(help_text="Points credited.")
    remaining = BigInt(help_text="Points not yet spent, held or expired.")
    status = Varchar(length=10, help_text="pending or available.")
    available_at = Timestamptz()
    expires_at = Timestamptz()
    created_at = Timestamptz()

    remaining_in_range = Check("remaining >= 0 AND remaining <= points")


class LedgerEntry(Table, tablename="ledger_entry"):
    """Append-only: a trigger in the migrations rejects UPDATE and DELETE."""

    id = UUID(primary_key=True, default=new_id)
    account = reference(Account, index=True)
    kind = Varchar(length=24, help_text="earn, redeem, hold, capture, void, refund, expiry, ...")
    available_delta = BigInt(default=0)
    pending_delta = BigInt(default=0)
    held_delta = BigInt(default=0)
    cause_type = Varchar(length=24, help_text="purchase, checkout, campaign, staff, ...")
    cause_id = UUID(null=True, default=None)
    note = Varchar(length=500, default="")
    created_at = Timestamptz()
