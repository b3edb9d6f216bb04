"""Members, their accounts, and the events of their streams (and of the broadcast one)."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, BigInt, Boolean, Date, Integer, Timestamptz, Varchar
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from db.ids import new_id
from db.tables.references import reference
from db.tables.streams import StreamEventColumns


class Member(Table, tablename="member"):
    id = UUID(primary_key=True, default=new_id)
    phone = Varchar(length=20, unique=True, help_text="E.164, e.g. +79990001122.")
    card_number = Varchar(length=16, unique=True, help_text="Loyalty card number with check digit.")
    tier = Varchar(length=16, default="green")
    birth_date = Date(
        null=True, default=None, help_text="Given by the member, for birthday offers."
    )
    time_zone = Varchar(
        length=64,
        null=True,
        default=None,
        help_text="IANA zone the member lives in; NULL: the program's until a first sale.",
    )
    audit_salt = Varchar(
        length=32,
        null=True,
        default=None,
        help_text="Salt of the seals of this member's data on the audit trail; erasure clears it.",
    )
    created_at = Timestamptz()


class BlockedCard(Table, tablename="blocked_card"):
    """A card number blocked as lost: it identifies nobody, and is never issued again."""

    card_number = Varchar(length=16, primary_key=True)
    member = reference(Member, index=True)
    blocked_at = Timestamptz()
    blocked_by = UUID(null=True, default=None, help_text="Staff user; NULL: the member.")


class MarketingConsent(Table, tablename="marketing_consent"):
    """Consent to marketing on one channel, given or withdrawn: append-only history, the
    newest row per member and channel is the state in force."""

    id = UUID(primary_key=True, default=new_id)
    member = reference(Member)
    channel = Varchar(length=8, help_text="push, sms or email.")
    given = Boolean(help_text="True: given; false: withdrawn.")
    source = Varchar(length=16, help_text="app, staff, ...")
    staff_id = UUID(null=True, default=None, help_text="Staff user who recorded it, if any.")
    at = Timestamptz()

    known_channel = Check("channel IN ('push', 'sms', 'email')")


class MemberStats(Table, tablename="member_stats"):
    """What segments and offers look at, kept up to date by every sale (one upsert)."""

    member = reference(Member, unique=True)
    visits = Integer(default=0)
    last_visit_at = Timestamptz(null=True, default=None)
    category_counts = JSONB(help_text="{category: items bought}, for the favourite category.")
    stamps = JSONB(help_text="{campaign id: stamps collected towards the next reward}.")


class Account(Table, tablename="account"):
    """A member's points balance: a cache of the ledger, updated in the same transaction."""

    id = UUID(primary_key=True, default=new_id)
    member = reference(Member, unique=True)
    available = BigInt(default=0, help_text="Points the member can spend now.")
    pending = BigInt(default=0, help_text="Earned points still inside the return window.")
    held = BigInt(default=0, help_text="Points reserved by open checkouts.")
    lifetime_earned = BigInt(default=0)
    last_event_seq = BigInt(default=0, help_text="Seq of the member's newest event.")
    updated_at = Timestamptz()

    held_not_negative = Check("held >= 0")
    pending_not_negative = Check("pending >= 0")


class MemberEvent(StreamEventColumns, Table, tablename="member_event"):
    """Durable copy of every event pushed to a member, so a client can resume from its seq."""

    member = reference(Member)
    seq = BigInt(help_text="1, 2, 3, ... per member, without gaps.")

    one_per_seq = Unique(["member", "seq"])


class BroadcastEvent(StreamEventColumns, Table, tablename="broadcast_event"):
    """An event for every member at once (an offer to all): stored once, one seq stream."""

    seq = BigInt(unique=True, help_text="1, 2, 3, ... without gaps.")
