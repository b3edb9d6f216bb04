"""Adjustments that wait for a second pair of eyes."""

from __future__ import annotations

from piccolo.columns import UUID, Array, BigInt, Timestamptz, Varchar
from piccolo.constraints import Check
from piccolo.table import Table

from db.ids import new_id
from db.tables.members import Member
from db.tables.references import reference
from db.tables.stores import StaffUser


class AdjustmentApproval(Table, tablename="adjustment_approval"):
    """An adjustment above its requester's limits: it reaches the ledger only once another
    staff member approves it (a manager of one of ``store_ids``, or an admin)."""

    id = UUID(primary_key=True, default=new_id)
    member = reference(Member, index=True)
    points = BigInt()
    reason = Varchar(length=500, help_text="As the requester gave it (the ledger note).")
    requested_by = reference(
        StaffUser, help_text="Staff user who asked; never the one who decides."
    )
    store_ids = Array(UUID(), default=list, help_text="Stores whose managers may decide.")
    exceeded = Varchar(length=24, help_text="per_adjustment or per_day: the limit it crossed.")
    status = Varchar(length=16, default="pending", help_text="pending, approved or rejected.")
    decided_by = UUID(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(index=True)

    known_status = Check("status IN ('pending', 'approved', 'rejected')")
