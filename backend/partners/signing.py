"""Standard Webhooks signing (https://www.standardwebhooks.com): the secret's form, and the
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers of a delivery.

The signature is ``v1,`` and the base64 HMAC-SHA256, under the secret's key, of
``<id>.<timestamp>.<body>``; while a rotated-out secret is still honoured the header carries
both signatures, space-separated, so a partner may switch keys at its own pace.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from backend.errors import ValidationFailed

PREFIX = "whsec_"
# The spec asks for keys of 24 to 64 bytes; ours are 32.
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64
NEW_KEY_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(NEW_KEY_BYTES)).decode()


def checked_secret(secret: str) -> str:
    """An admin's own secret, if it is a Standard Webhooks one with a long enough key."""
    key = _key(secret)
    if key is None or not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ValidationFailed(
            f"secret must be {PREFIX} followed by the base64 of a {MIN_KEY_BYTES} to "
            f"{MAX_KEY_BYTES} byte key",
            field="secret",
        )
    return secret


def _key(secret: str) -> bytes | None:
    if not secret.startswith(PREFIX):
        return None
    try:
        return base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return None


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = _key(secret)
    if key is None:
        raise ValueError("not a Standard Webhooks secret")
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(
    signing_secrets: Sequence[str], webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three headers of a delivery, signed with every secret in ``signing_secrets``."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, webhook_id, timestamp, body) for secret in signing_secrets
        ),
    }
