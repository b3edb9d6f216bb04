"""Erasures of members' personal data: one row per member, written before anything is erased,
so an erasure interrupted half-way is found and finished."""

from __future__ import annotations

from piccolo.columns import UUID, BigInt, Timestamptz, Varchar
from piccolo.table import Table

from db.ids import new_id
from db.tables.members import Member
from db.tables.references import reference


class MemberErasure(Table, tablename="member_erasure"):
    """A member's erasure: asked for (by the member in the app, or by staff on a written
    request), the personal data replaced at once, the rest (sessions, leftover points) done
    until ``completed_at`` is set."""

    id = UUID(primary_key=True, default=new_id)
    member = reference(Member, unique=True)
    source = Varchar(length=8, help_text="member (from the app) or staff (on request).")
    requested_by = UUID(null=True, default=None, help_text="Staff user; NULL: the member.")
    requested_at = Timestamptz()
    points_forfeited = BigInt(default=0, help_text="Points the member lost with the account.")
    completed_at = Timestamptz(
        null=True, default=None, help_text="NULL: sessions or late points still to be cleared."
    )
