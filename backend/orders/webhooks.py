"""Payment provider webhooks: verified, deduplicated, recorded.

Every accepted event is stored once per provider event id and handed to the orders
(``backend.orders.service``); nothing is stored or done for a delivery that fails the
signature, is stale, or replays a signature already seen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

import msgspec
from redis.asyncio import Redis

from backend.errors import Unauthorized, ValidationFailed
from backend.orders.webhook_signature import TOLERANCE_S, verify_signature
from backend.text import Line
from db.tables import PaymentEvent


class ProviderEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: Annotated[Line, msgspec.Meta(min_length=1, max_length=100)]
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[a-z_.]+$")]
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class WebhookReceipt(msgspec.Struct, frozen=True):
    received: bool
    duplicate: bool


PaymentEventHandler = Callable[[dict[str, Any]], Awaitable[None]]


class WebhookService:
    def __init__(
        self,
        *,
        redis: Redis,
        prefix: str,
        secrets: Sequence[str],
        on_payment_event: PaymentEventHandler | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._secrets = tuple(secrets)
        self._on_payment_event = on_payment_event

    async def receive(self, *, signature: str | None, body: bytes) -> WebhookReceipt:
        verify_signature(signature, body, self._secrets)
        try:
            event = msgspec.json.decode(body, type=ProviderEvent, strict=True)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise ValidationFailed(f"the webhook body is not valid: {exc}") from exc
        except RecursionError as exc:
            raise ValidationFailed("the webhook body is nested too deeply") from exc
        if _holds_nul(event.data):
            raise ValidationFailed("the webhook's data holds a NUL, which cannot be stored")
        # An identical signed delivery seen before is a replay; the provider signs each
        # attempt afresh. Remembered a little longer than the window it could be valid in.
        digest = hashlib.sha256((signature or "").encode()).hexdigest()
        seen_key = f"{self._prefix}webhook:{digest}"
        if not await self._redis.set(seen_key, b"1", nx=True, ex=TOLERANCE_S * 2 + 60):
            raise Unauthorized("this signed delivery was already received (replay)")
        inserted = (
            await PaymentEvent.insert(
                PaymentEvent(provider_event_id=event.id, type=event.type, payload=event.data)
            )
            .on_conflict(target=PaymentEvent.provider_event_id, action="DO NOTHING")
            .returning(PaymentEvent.id)
        )
        # Handled even when the event id is a duplicate: what it does is idempotent (the
        # order settles once), and an earlier delivery may have failed half way.
        if self._on_payment_event is not None and event.type.startswith("payment."):
            await self._on_payment_event(event.data)
        return WebhookReceipt(received=True, duplicate=not inserted)


def _holds_nul(value: Any) -> bool:
    """Whether free-form JSON holds a NUL, in a string or a key (JSONB cannot store one)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False
