"""One small interface for every push provider: ``send(device, notification) -> outcome``.

Web Push, FCM and APNs are beside this (``web_push``, ``fcm``, ``apns``); another provider
(RuStore, HMS) is one more class with ``name`` and ``send``. A provider never raises for what
the push service answers: it says what the answer means, and the delivery queue acts on it
(prune the device, wait ``Retry-After``, back off, give up).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import httpx
import msgspec

from backend.deliveries.policy import retry_after

ProviderName = Literal["webpush", "fcm", "apns"]

# A 429 or 503 without Retry-After waits this long before the next try.
DEFAULT_RETRY_AFTER_S = 60.0


class Device(msgspec.Struct, frozen=True, kw_only=True):
    """A registered device as a provider needs it (``member_device``)."""

    id: uuid.UUID
    member_id: uuid.UUID
    provider: ProviderName
    token: str  # webpush: the endpoint URL; fcm: the registration token; apns: hex
    p256dh: str | None = None  # webpush only
    auth: str | None = None  # webpush only


class Notification(msgspec.Struct, frozen=True, kw_only=True):
    """What the person sees, already in their language, and what the app may act on."""

    kind: str
    title: str
    body: str
    # Repeats of one notification (a retried delivery, the same sale told twice) share it:
    # providers that can collapse pending messages do, and the app shows one.
    collapse_key: str
    data: dict[str, str] = msgspec.field(default_factory=dict)
    ttl_s: int = 24 * 3600


class Delivered(msgspec.Struct, frozen=True):
    pass


class InvalidToken(msgspec.Struct, frozen=True):
    """The provider says the device is gone: its row is deleted (pruned)."""

    reason: str


class RetryAfter(msgspec.Struct, frozen=True):
    """The provider asked to wait (429, or 503 with Retry-After)."""

    seconds: float
    reason: str


class Failed(msgspec.Struct, frozen=True):
    """Not delivered; ``retryable``: an outage (5xx, no connection) rather than a refusal."""

    reason: str
    retryable: bool


Outcome = Delivered | InvalidToken | RetryAfter | Failed


class PushProvider(Protocol):
    name: ProviderName

    async def send(self, device: Device, notification: Notification) -> Outcome: ...

    async def aclose(self) -> None: ...


class HttpProvider:
    """What the providers that speak HTTP to their push service share: one client, reused
    for every push (its connections kept open; APNs' carries many pushes at once over
    HTTP/2), a post that turns no answer at all into an outage, and closing the client.
    A provider reads the answer itself; its outcomes call it ``what`` (its name unless said)."""

    def __init__(
        self,
        name: ProviderName,
        client: httpx.AsyncClient | None,
        *,
        timeout_s: float,
        what: str | None = None,
        http2_only: bool = False,
    ) -> None:
        self.name = name
        self._what = what or name
        self._client = client or httpx.AsyncClient(
            http1=not http2_only, http2=http2_only, timeout=timeout_s
        )

    async def _post(self, url: str, **request: Any) -> httpx.Response | Failed:
        """The push service's answer, or ``unreachable`` where there was none."""
        try:
            return await self._client.post(url, **request)
        except httpx.HTTPError as exc:
            return unreachable(exc, what=self._what)

    async def aclose(self) -> None:
        await self._client.aclose()


def retry_after_s(response: httpx.Response, *, now: datetime | None = None) -> float:
    """The response's Retry-After in seconds (delta-seconds or an HTTP date), else the default."""
    asked = retry_after(response.headers.get("retry-after"), now or datetime.now(UTC))
    return DEFAULT_RETRY_AFTER_S if asked is None else asked.total_seconds()


def answered(response: httpx.Response, *, gone: bool, what: str) -> Outcome:
    """The outcome of a push service's answer, once the provider decided whether it says the
    device is ``gone``: 2xx delivered, 429 wait, 5xx an outage (waiting Retry-After if it
    says so), any other refusal final."""
    reason = f"{what}: {response.status_code} {response.text[:200]}".strip()
    if response.is_success:
        return Delivered()
    if gone:
        return InvalidToken(reason)
    if response.status_code == 429 or (
        response.status_code == 503 and "retry-after" in response.headers
    ):
        return RetryAfter(retry_after_s(response), reason)
    return Failed(reason, retryable=response.status_code >= 500 or response.status_code == 408)


def unreachable(exc: httpx.HTTPError, *, what: str) -> Failed:
    """No answer at all (refused, reset, timed out): an outage, tried again later."""
    return Failed(f"{what}: {type(exc).__name__}: {exc}", retryable=True)
