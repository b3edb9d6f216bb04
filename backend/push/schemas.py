"""API shapes of a member's devices and notification settings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from backend.push.providers import ProviderName

# What a member can be told; each can be turned off (docs/notifications.md).
NotificationKind = Literal[
    "points_earned",
    "reward_earned",
    "offer_live",
    "points_expiring",
    "birthday",
    "tier_up",
]
Language = Literal["ru", "en"]

# base64url without padding (what PushSubscription.toJSON() gives), padding tolerated.
_BASE64URL = r"^[A-Za-z0-9_-]+={0,2}$"


class WebPushKeys(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # The browser's P-256 public key, uncompressed: 65 bytes, 87 characters.
    p256dh: Annotated[str, msgspec.Meta(pattern=_BASE64URL, min_length=87, max_length=88)]
    # The auth secret: 16 bytes, 22 characters.
    auth: Annotated[str, msgspec.Meta(pattern=_BASE64URL, min_length=22, max_length=24)]


class WebPushSubscription(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``PushSubscription.toJSON()`` as the browser gives it."""

    endpoint: Annotated[str, msgspec.Meta(min_length=12, max_length=2000)]
    keys: WebPushKeys
    # The browser's own field (milliseconds since the epoch; Chrome sends null): not kept,
    # the push service's 404/410 says when a subscription has ended.
    expirationTime: Annotated[int, msgspec.Meta(ge=0)] | None = None


class DeviceRegistration(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A Web Push ``subscription``, or an FCM or APNs ``token``."""

    provider: ProviderName
    subscription: WebPushSubscription | None = None
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] | None = None


class DeviceView(msgspec.Struct, frozen=True):
    id: uuid.UUID
    provider: ProviderName
    # Enough to tell devices apart, not the token: the push service's host, or the token's
    # last characters.
    label: str
    created_at: datetime
    updated_at: datetime


class DeviceList(msgspec.Struct, frozen=True):
    items: list[DeviceView]


# A local clock time, "HH:MM" (24-hour).
ClockTime = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class QuietHoursSetting(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Push waits from ``start`` until ``end`` in the member's local time (over midnight when
    ``start`` is later); equal times: no quiet hours."""

    start: ClockTime = "22:00"
    end: ClockTime = "08:00"


class NotificationSettingsView(msgspec.Struct, frozen=True):
    language: Language
    kinds: dict[NotificationKind, bool]
    quiet_hours: QuietHoursSetting = msgspec.field(default_factory=QuietHoursSetting)


class NotificationSettingsUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The kinds named are turned on or off, the others stay as they are."""

    language: Language | None = None
    kinds: dict[NotificationKind, bool] = msgspec.field(default_factory=dict)
    quiet_hours: QuietHoursSetting | None = None


class WebPushKey(msgspec.Struct, frozen=True):
    """The VAPID public key pages subscribe with (``applicationServerKey``), base64url."""

    public_key: str
