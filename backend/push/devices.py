"""A member's devices: registered (a token that comes again moves to whoever registers it,
never doubles), listed, removed by the member, pruned when a provider calls them gone.

Bad input is refused before anything is written: a Web Push endpoint that is not https (a
loopback http:// one outside production only, for the fakes), keys that are not a P-256
point and a 16-byte secret, an FCM token outside its alphabet, an APNs token that is not hex.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from backend.errors import DeviceNotFound, ValidationFailed
from backend.push.providers import Device, ProviderName
from backend.push.schemas import DeviceList, DeviceRegistration, DeviceView
from db import sql
from db.ids import new_id
from db.pool import engine

# A member's devices kept; registering one more forgets the longest unused.
DEVICES_KEPT = 20
_FCM_TOKEN = re.compile(r"^[A-Za-z0-9_:\-]{32,4096}$")
_APNS_TOKEN = re.compile(r"^(?:[0-9a-fA-F]{2}){32,100}$")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_URL_CHARACTERS = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII: no spaces, NULs, bidi marks

_REGISTER = """
INSERT INTO member_device (id, member, provider, token, p256dh, auth, created_at, updated_at)
VALUES ({id}, {member_id}, {provider}, {token}, {p256dh}, {auth}, {now}, {now})
ON CONFLICT ON CONSTRAINT one_per_token DO UPDATE SET
    created_at = CASE WHEN member_device.member = EXCLUDED.member
                      THEN member_device.created_at ELSE EXCLUDED.created_at END,
    member = EXCLUDED.member, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth,
    updated_at = EXCLUDED.updated_at
RETURNING id, provider, token, created_at, updated_at
"""
_FORGET_OLDEST = """
DELETE FROM member_device WHERE member = {member_id} AND id NOT IN (
    SELECT id FROM member_device WHERE member = {member_id}
    ORDER BY updated_at DESC, id DESC LIMIT {kept})
"""
# A token that moved to another member takes none of the previous member's pushes with it.
_FORGET_PREVIOUS_OWNERS = (
    "DELETE FROM push_delivery WHERE device = {device_id} AND member <> {member_id}"
)
# The push feed reads only the members with a device (backend.push.queue.FEED): a member
# who has none yet starts the feed at their stream's newest event, so what they did without
# one is not pushed now. Run before the device is written: a member who has one already (a
# further device, or the app registering its token again) changes nothing, since the feed
# may not have read their last sale yet.
_START_FEED = """
INSERT INTO push_feed_position (member, seq)
SELECT {member_id}, COALESCE(MAX(e.seq), 0) FROM member_event e WHERE e.member = {member_id}
    AND NOT EXISTS (SELECT 1 FROM member_device d WHERE d.member = {member_id})
ON CONFLICT (member) DO UPDATE SET seq = GREATEST(push_feed_position.seq, EXCLUDED.seq)
"""
_LIST = """
SELECT id, member, provider, token, p256dh, auth, created_at, updated_at
FROM member_device WHERE member = {member_id} ORDER BY updated_at DESC, id DESC LIMIT {kept}
"""
_REMOVE = "DELETE FROM member_device WHERE id = {id} AND member = {member_id} RETURNING id"
_PRUNE = "DELETE FROM member_device WHERE id = {id} AND token = {token} RETURNING id"


@dataclass(frozen=True)
class CheckedDevice:
    provider: ProviderName
    token: str
    p256dh: str | None = None
    auth: str | None = None


async def register_device(
    member_id: uuid.UUID, registration: DeviceRegistration, *, loopback_http: bool
) -> DeviceView:
    device = checked(registration, loopback_http=loopback_http)
    async with engine().transaction():
        await sql.fetch(_START_FEED, member_id=member_id)
        (row,) = await sql.fetch(
            _REGISTER,
            id=new_id(),
            member_id=member_id,
            provider=device.provider,
            token=device.token,
            p256dh=device.p256dh,
            auth=device.auth,
            now=datetime.now(UTC),
        )
        await sql.fetch(_FORGET_OLDEST, member_id=member_id, kept=DEVICES_KEPT)
        await sql.fetch(_FORGET_PREVIOUS_OWNERS, device_id=row["id"], member_id=member_id)
    return view(row)


async def list_devices(member_id: uuid.UUID) -> DeviceList:
    rows = await sql.fetch(_LIST, member_id=member_id, kept=DEVICES_KEPT)
    return DeviceList(items=[view(row) for row in rows])


async def devices_of(member_id: uuid.UUID) -> list[Device]:
    """Where a notification for the member goes."""
    rows = await sql.fetch(_LIST, member_id=member_id, kept=DEVICES_KEPT)
    return [device_of(row) for row in rows]


def device_of(row: sql.Row, *, id_column: str = "id") -> Device:
    """A ``member_device`` row (its id under ``id_column``) as a provider takes it."""
    return Device(
        id=row[id_column],
        member_id=row["member"],
        provider=row["provider"],
        token=row["token"],
        p256dh=row["p256dh"],
        auth=row["auth"],
    )


async def remove_device(member_id: uuid.UUID, device_id: uuid.UUID) -> None:
    if not await sql.fetch(_REMOVE, id=device_id, member_id=member_id):
        raise DeviceNotFound("no such device among yours")


async def prune_device(device: Device) -> bool:
    """Forget a device its provider called gone; False if it was already forgotten (or its
    row now holds another token: a re-registration since is kept)."""
    return bool(await sql.fetch(_PRUNE, id=device.id, token=device.token))


def view(row: sql.Row) -> DeviceView:
    return DeviceView(
        id=row["id"],
        provider=row["provider"],
        label=label(row["provider"], row["token"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def label(provider: str, token: str) -> str:
    if provider == "webpush":
        return urlsplit(token).hostname or "web push"
    return f"…{token[-6:]}"


def checked(registration: DeviceRegistration, *, loopback_http: bool) -> CheckedDevice:
    """The registration as stored, or ValidationFailed naming the field."""
    provider = registration.provider
    if provider == "webpush":
        if registration.subscription is None or registration.token is not None:
            raise ValidationFailed(
                "a webpush device is a subscription, without a token", field="subscription"
            )
        subscription = registration.subscription
        check_endpoint(subscription.endpoint, loopback_http=loopback_http)
        p256dh = decoded(subscription.keys.p256dh, "subscription.keys.p256dh", length=65)
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
        except ValueError:
            raise ValidationFailed(
                "p256dh is not a P-256 public key", field="subscription.keys.p256dh"
            ) from None
        decoded(subscription.keys.auth, "subscription.keys.auth", length=16)
        return CheckedDevice(
            provider,
            subscription.endpoint,
            subscription.keys.p256dh.rstrip("="),
            subscription.keys.auth.rstrip("="),
        )
    token = registration.token
    if token is None or registration.subscription is not None:
        raise ValidationFailed(
            f"an {provider} device is a token, without a subscription", field="token"
        )
    if provider == "fcm" and not _FCM_TOKEN.match(token):
        raise ValidationFailed("not an FCM registration token", field="token")
    if provider == "apns":
        if not _APNS_TOKEN.match(token):
            raise ValidationFailed("an APNs device token is hexadecimal", field="token")
        token = token.lower()
    return CheckedDevice(provider, token)


def check_endpoint(endpoint: str, *, loopback_http: bool) -> None:
    if not _URL_CHARACTERS.match(endpoint):
        raise ValidationFailed(
            "a push subscription's endpoint is a URL in printable ASCII",
            field="subscription.endpoint",
        )
    parts = urlsplit(endpoint)
    secure = parts.scheme == "https" and bool(parts.hostname)
    local = loopback_http and parts.scheme == "http" and parts.hostname in _LOOPBACK
    if not (secure or local) or parts.username or parts.password or parts.fragment:
        raise ValidationFailed(
            "a push subscription's endpoint is an https URL", field="subscription.endpoint"
        )


def decoded(value: str, field: str, *, length: int) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != length:
        raise ValidationFailed(f"{field} is not {length} bytes of base64url", field=field)
    return raw
