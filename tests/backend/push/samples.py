"""What the push tests send: a notification, a browser's subscription."""

from __future__ import annotations

import os
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from backend.push.providers import Notification
from backend.push.web_push import b64url_encode


def points_earned(purchase_id: str = "0190c3a8-0000-7000-8000-000000000001") -> Notification:
    return Notification(
        kind="points_earned",
        title="Начислено 35 баллов",
        body="Покупка в Astrocoffee на Тверской: баланс 1 235 баллов",
        collapse_key=f"points_earned:{purchase_id}",
        data={"purchase_id": purchase_id, "points": "35"},
        ttl_s=3600,
    )


def web_push_subscription(endpoint: str = "https://push.example/send/abc123") -> dict[str, Any]:
    """What a browser's ``PushSubscription.toJSON()`` gives: a fresh P-256 key and secret."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    p256dh = b64url_encode(key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": p256dh, "auth": b64url_encode(os.urandom(16))},
    }
