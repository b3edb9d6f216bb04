"""One-time codes by SMS through an HTTP gateway (httpx), retried safely.

The gateway protocol: ``POST <url>`` with ``{"to": phone, "text": message}``, bearer token,
and an ``Idempotency-Key`` that stays the same across our retries, so a retry after a lost
response never sends the member two messages. Transport errors and 5xx are retried with
exponential backoff (tenacity); 4xx are not.
"""

from __future__ import annotations

import uuid

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from backend.errors import ServiceUnavailable


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500


class HttpSmsSender:
    def __init__(
        self,
        *,
        url: str,
        token: str | None,
        timeout_s: float = 5.0,
        attempts: int = 3,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._attempts = attempts
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    async def send(self, *, phone: str, code: str) -> None:
        headers = {**self._headers, "Idempotency-Key": str(uuid.uuid4())}
        body = {"to": phone, "text": f"Astrocoffee code: {code}. It expires in 5 minutes."}
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_retryable),
                stop=stop_after_attempt(self._attempts),
                wait=wait_exponential_jitter(multiplier=0.2, max=2.0, jitter=0.2),
                reraise=True,
            ):
                with attempt:
                    response = await self._client.post(self._url, json=body, headers=headers)
                    response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("the SMS gateway did not accept the message") from exc

    async def aclose(self) -> None:
        await self._client.aclose()
