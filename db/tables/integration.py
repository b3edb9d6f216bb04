"""What leaves the platform (the outbox) and what callers' retries are answered from."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    UUID,
    Date,
    Integer,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from db.ids import new_id


class OutboxMessage(Table, tablename="outbox_message"):
    """A message for an external system, written in the transaction of what it reports.

    ``astrocoffee worker`` delivers it (``FOR UPDATE SKIP LOCKED``), with its id as the
    idempotency key, so that a redelivery after a crash is recognised by the receiver.
    """

    id = UUID(primary_key=True, default=new_id)
    destination = Varchar(length=40, help_text="accounting.")
    kind = Varchar(length=40, help_text="sale, refund, points_expiry, points_adjustment.")
    reference = Varchar(length=100, help_text="What it reports: a purchase, refund, ... id.")
    business_date = Date(index=True)
    payload = JSONB()
    status = Varchar(length=12, default="pending", help_text="pending, delivered, dead.")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    last_error = Varchar(length=500, null=True, default=None)
    acknowledgement = Varchar(length=100, null=True, default=None)
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None)

    known_outbox_status = Check("status IN ('pending', 'delivered', 'dead')")


class IdempotencyRecord(Table, tablename="idempotency_record"):
    """The stored outcome of a request made with an ``Idempotency-Key``, per caller."""

    id = UUID(primary_key=True, default=new_id)
    scope = Varchar(length=80, help_text="The caller, e.g. terminal:<id>.")
    key = Varchar(length=255)
    request_hash = Varchar(length=64)
    response_status = Integer()
    response_body = JSONB()
    created_at = Timestamptz(index=True)

    one_per_key = Unique(["scope", "key"])
