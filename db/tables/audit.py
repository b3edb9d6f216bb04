"""The audit trail of staff actions: append-only, kept for a configured period."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, Array, Timestamptz, Varchar
from piccolo.table import Table

from db.ids import new_id


class AuditEntry(Table, tablename="audit_entry"):
    """One staff action that changed something or read personal data (or a login attempt).

    A trigger rejects every UPDATE, and every DELETE except the retention purge's of rows
    older than its cutoff (``db/migrations/db_2026_12_07t22_12_41_000000.py``).
    """

    id = UUID(primary_key=True, default=new_id)
    at = Timestamptz(index=True)
    staff_id = UUID(
        null=True, default=None, index=True, help_text="Who acted; NULL: a login by nobody known."
    )
    role = Varchar(length=16, null=True, default=None, help_text="Their role at the time.")
    store_ids = Array(UUID(), default=list, help_text="Stores the action concerns.")
    action = Varchar(length=40, index=True, help_text="e.g. member.looked_up, staff.updated.")
    target_type = Varchar(length=24, help_text="member, staff, store, terminal, rules, ...")
    target_id = Varchar(length=64, null=True, default=None, index=True)
    before = JSONB(null=True, default=None, help_text="The target before a change.")
    after = JSONB(
        null=True, default=None, help_text="The target after a change, or what was asked."
    )
    request_id = Varchar(length=64, null=True, default=None)
    client_address = Varchar(length=64, null=True, default=None, help_text="Personal data.")
