"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291).

The protocol's two hard parts come from the maintained libraries pywebpush itself is built
on: ``http_ece`` encrypts the payload for the browser's key and auth secret, ``py_vapid``
signs the VAPID token. pywebpush's own sender is not used: it posts with ``requests`` (or
``aiohttp``), blocking or a second HTTP stack in an async service, and brings both as
dependencies; the request it builds is the few headers below, sent here with httpx.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from urllib.parse import urlsplit

import http_ece
import httpx
import msgspec
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid02

from backend.push.providers import Device, Failed, HttpProvider, Notification, Outcome, answered

# A VAPID token is valid at most 24 h (RFC 8292 §2); one is signed per push service origin
# and reused until an hour before it expires (signing is the costly part of a push).
VAPID_LIFETIME_S = 12 * 3600
_RENEW_BEFORE_S = 3600


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url_encode(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


class WebPush(HttpProvider):
    def __init__(
        self,
        *,
        vapid_private_key: str,
        subject: str,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._vapid = Vapid02.from_string(vapid_private_key)
        self._subject = subject
        super().__init__("webpush", client, what="web push", timeout_s=timeout_s)
        self._tokens: dict[str, tuple[str, float]] = {}  # origin -> (Authorization, renew at)

    @property
    def public_key(self) -> str:
        """The application server key browsers subscribe with (base64url, uncompressed)."""
        return vapid_public_key(self._vapid)

    async def send(self, device: Device, notification: Notification) -> Outcome:
        if device.p256dh is None or device.auth is None:
            return Failed("web push subscription without keys", retryable=False)
        body = encrypt(payload(notification), p256dh=device.p256dh, auth=device.auth)
        headers = {
            "Authorization": self._authorization(device.token),
            "TTL": str(notification.ttl_s),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Urgency": "normal",
            # Replaces a message with the same topic still waiting at the push service.
            "Topic": topic(notification.collapse_key),
        }
        response = await self._post(device.token, content=body, headers=headers)
        if isinstance(response, Failed):
            return response
        # 404: the subscription never existed or is gone; 410: it expired or was revoked.
        return answered(response, gone=response.status_code in (404, 410), what="web push")

    def _authorization(self, endpoint: str) -> str:
        parts = urlsplit(endpoint)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._tokens.get(origin)
        now = time.time()
        if cached is not None and cached[1] > now:
            return cached[0]
        claims = {"aud": origin, "sub": self._subject, "exp": int(now) + VAPID_LIFETIME_S}
        header = str(self._vapid.sign(claims)["Authorization"])
        self._tokens[origin] = (header, now + VAPID_LIFETIME_S - _RENEW_BEFORE_S)
        return header


def vapid_public_key(vapid: Vapid02) -> str:
    return b64url_encode(
        vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )


def payload(notification: Notification) -> bytes:
    """What the service worker receives (``static/sw.js`` reads these fields)."""
    return msgspec.json.encode(
        {
            "kind": notification.kind,
            "title": notification.title,
            "body": notification.body,
            "tag": notification.collapse_key,
            "data": notification.data,
        }
    )


def encrypt(content: bytes, *, p256dh: str, auth: str) -> bytes:
    """RFC 8291: aes128gcm for the subscription's key, from a key pair of this message only."""
    sender = ec.generate_private_key(ec.SECP256R1())
    encrypted: bytes = http_ece.encrypt(
        content,
        salt=os.urandom(16),
        private_key=sender,
        dh=b64url_decode(p256dh),
        auth_secret=b64url_decode(auth),
        version="aes128gcm",
    )
    return encrypted


def topic(collapse_key: str) -> str:
    """A Topic header value (at most 32 base64url characters) standing for the collapse key."""
    return b64url_encode(hashlib.sha256(collapse_key.encode()).digest())[:32]
