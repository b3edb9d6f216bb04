"""Push notifications: the devices members register (``backend.push``)."""

from __future__ import annotations

from piccolo.columns import UUID, Array, ForeignKey, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from db.ids import new_id
from db.tables.members import Member


class MemberDevice(Table, tablename="member_device"):
    """Where a member's notifications go: a Web Push subscription, an FCM registration token
    or an APNs device token. Personal data (docs/security.md): erasure deletes the rows."""

    id = UUID(primary_key=True, default=new_id)
    member = ForeignKey(Member, on_delete=OnDelete.restrict, null=False, index=True)
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

    member = ForeignKey(Member, on_delete=OnDelete.restrict, null=False, primary_key=True)
    kinds_off = Array(base_column=Varchar(length=24), help_text="Kinds the member turned off.")
    language = Varchar(length=2, default="ru", help_text="ru or en.")
    updated_at = Timestamptz()

    known_language = Check("language IN ('ru', 'en')")
