"""Partner webhooks: the endpoints admins register, the deliveries made to them, and how far
the feed has read the member streams (``backend.partners``)."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from db.ids import new_id


class PartnerEndpoint(Table, tablename="partner_endpoint"):
    """A partner's HTTPS endpoint and the event types it receives, signed the Standard
    Webhooks way with ``secret`` (and ``previous_secret`` until ``previous_secret_until``,
    after a rotation)."""

    id = UUID(primary_key=True, default=new_id)
    url = Varchar(length=2000)
    description = Varchar(length=200, default="")
    event_types = Array(base_column=Varchar(length=40))
    secret = Varchar(length=100, help_text="whsec_ + base64 of the key: signs the deliveries.")
    previous_secret = Varchar(length=100, null=True, default=None)
    previous_secret_until = Timestamptz(null=True, default=None)
    personal_data_allowed = Boolean(default=False)
    enabled = Boolean(default=True)
    disabled_reason = Varchar(length=300, null=True, default=None)
    failing_since = Timestamptz(null=True, default=None, help_text="First failure unanswered.")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class PartnerDelivery(Table, tablename="partner_delivery"):
    """One event for one endpoint; its id is the ``webhook-id`` of every attempt."""

    id = UUID(primary_key=True, default=new_id)
    endpoint = ForeignKey(PartnerEndpoint, on_delete=OnDelete.cascade, null=False)
    member = UUID(default=None, help_text="Whose stream it is in: deliveries queue per member.")
    seq = BigInt(help_text="The event's seq in the member's stream: the delivery order.")
    event = UUID(default=None, help_text="The member_event it tells of.")
    type = Varchar(length=40)
    payload = JSONB(help_text="The event without personal data (added when sent, if allowed).")
    status = Varchar(length=12, default="pending", help_text="pending, delivered.")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    last_status = Integer(null=True, default=None, help_text="The last answer's HTTP status.")
    last_error = Varchar(length=500, null=True, default=None)
    occurred_at = Timestamptz()
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None)

    one_per_event = Unique(["endpoint", "event"])
    known_delivery_status = Check("status IN ('pending', 'delivered')")


class PartnerFeedPosition(Table, tablename="partner_feed_position"):
    """The seq of the newest event of a member's stream that the feed has read."""

    member = UUID(primary_key=True, default=None)
    seq = BigInt(default=0)


class PartnerFeedMark(Table, tablename="partner_feed_mark"):
    """When the feed last read the streams: the next run reads events from a little before."""

    name = Varchar(length=40, primary_key=True)
    read_until = Timestamptz()
