"""Verify ``X-Signature: t=<unix>,v1=<hex>`` = HMAC-SHA256(secret, "<t>.<body>").

Several ``v1`` values may be present, and several secrets accepted, so the provider and we
can rotate the secret without a window of refused deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

from backend.errors import Unauthorized

TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    payload = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def verify_signature(
    header: str | None, body: bytes, secrets: Sequence[str], *, now: float | None = None
) -> int:
    """Return the signed timestamp, or raise ``Unauthorized``."""
    if not header:
        raise Unauthorized("X-Signature header is missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise Unauthorized("X-Signature must be t=<unix>,v1=<hex>")
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE_S:
        raise Unauthorized("the signature is outside the 5-minute window")
    for secret in secrets:
        expected = sign(secret, timestamp, body)
        # Check every candidate without stopping early on the first mismatch.
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return timestamp
    raise Unauthorized("the signature does not match")
