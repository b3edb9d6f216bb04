"""Push notifications: the devices members register (``backend.push``)."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, Array, BigInt, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from db.ids import new_id
from db.tables.members import Member
from db.tables.references import reference


class MemberDevice(Table, tablename="member_device"):
    """Where a member's notifications go: a Web Push subscription, an FCM registration token
    or an APNs device token. Personal data (docs/security.md): erasure deletes the rows."""

    id = UUID(primary_key=True, default=new_id)
    member = reference(Member, index=True)
    provider = Varchar(length=8, help_text="webpush, fcm or apns.")
    token = Varchar(
        length=2000,
        help_text="The push service's endpoint URL (webpush) or the provider's device token.",
    )
    p256dh = Varchar(
        length=100, null=True, default=None, help_text="webpush: the browser's P-256 key."
    )
    auth = Varchar(length=40, null=True, default=None, help_text="webpush: the auth secret.")
    created_at = Timestamptz()
    updated_at = Timestamptz(help_text="Last registered: a token that rotates moves here.")

    # A token belongs to one member: registering it again moves it (a phone changes hands).
    one_per_token = Unique(["provider", "token"])
    known_provider = Check("provider IN ('webpush', 'fcm', 'apns')")


class NotificationSettings(Table, tablename="notification_settings"):
    """A member's choices: the kinds of notification turned off, and the language they are
    written in. No row: every kind on, in Russian (the program's language)."""

    member = reference(Member, primary_key=True)
    kinds_off = Array(base_column=Varchar(length=24), help_text="Kinds the member turned off.")
    language = Varchar(length=2, default="ru", help_text="ru or en.")
    quiet_from = Integer(
        default=1320, help_text="Quiet hours start: minutes after local midnight (22:00)."
    )
    quiet_until = Integer(
        default=480, help_text="Quiet hours end: minutes after local midnight (08:00)."
    )
    updated_at = Timestamptz()

    known_language = Check("language IN ('ru', 'en')")


class PushDelivery(Table, tablename="push_delivery"):
    """One notification for one device, queued by the push feed after the event that causes
    it committed; unique per (device, collapse key), so a feed that reads an event again
    queues nothing twice. A pruned device takes its deliveries with it."""

    id = UUID(primary_key=True, default=new_id)
    device = ForeignKey(MemberDevice, on_delete=OnDelete.cascade, null=False)
    member = UUID(default=None, help_text="Whose device it is.")
    collapse_key = Varchar(length=100, help_text="points_earned:<purchase id>, ...")
    notification = JSONB(help_text="What the device shows: kind, title, body, data, ttl_s.")
    status = Varchar(
        length=12,
        default="pending",
        help_text="pending, delivered, dead, replaced (by a newer sale update), shown_live "
        "(the device's open socket had shown its event).",
    )
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(index=True)
    last_error = Varchar(length=500, null=True, default=None)
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None)
    source_seq = BigInt(
        null=True,
        default=None,
        help_text="The seq of the member-stream event it was made from (None: no event).",
    )

    one_per_device_and_key = Unique(["device", "collapse_key"])
    known_push_status = Check(
        "status IN ('pending', 'delivered', 'dead', 'replaced', 'shown_live')"
    )


class PushFeedMark(Table, tablename="push_feed_mark"):
    """When the push feed last read the member streams: the next run reads from a little
    before (events commit a moment after their ``created_at``)."""

    name = Varchar(length=40, primary_key=True)
    read_until = Timestamptz()
