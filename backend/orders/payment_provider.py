"""The payment provider's HTTP API, as we use it (protocol: docs/integrations.md).

Retries: creating a payment carries our order id as its Idempotency-Key, so the provider
makes one payment however often we ask; reads are safe anyway. Both are retried (tenacity,
exponential backoff) on timeouts, broken connections and 5xx, never on other refusals.
A circuit breaker stops calling a provider that keeps failing.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

import httpx
import msgspec
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from backend.orders.breaker import CircuitBreaker, CircuitOpen

PaymentStatus = Literal["pending", "succeeded", "failed"]


class ProviderPayment(msgspec.Struct, frozen=True):
    payment_id: str
    status: PaymentStatus
    amount: int
    currency: str
    reference: str


class ProviderUnavailable(Exception):
    """Down, too slow, failing, or the circuit is open: the answer is not known."""


class ProviderRefused(Exception):
    """The provider answered, and said no (a 4xx other than throttling)."""


class _Retryable(Exception):
    pass


class PaymentProvider:
    def __init__(
        self,
        *,
        url: str,
        token: str | None,
        timeout_s: float = 5.0,
        attempts: int = 3,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"), headers=headers, timeout=httpx.Timeout(timeout_s)
        )
        self._attempts = attempts
        self.breaker = breaker or CircuitBreaker()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create_payment(
        self, *, order_id: uuid.UUID, amount: int, currency: str, description: str
    ) -> ProviderPayment:
        body = {
            "amount": amount,
            "currency": currency,
            "reference": str(order_id),
            "description": description,
        }
        answer = await self._call(
            "POST", "/v1/payments", json=body, headers={"Idempotency-Key": str(order_id)}
        )
        return msgspec.convert(answer, ProviderPayment, strict=False)

    async def get_payment(self, payment_id: str) -> ProviderPayment:
        answer = await self._call("GET", f"/v1/payments/{payment_id}")
        return msgspec.convert(answer, ProviderPayment, strict=False)

    async def payments_on(self, day: date) -> list[ProviderPayment]:
        answer = await self._call("GET", "/v1/payments", params={"date": day.isoformat()})
        return msgspec.convert(answer["payments"], list[ProviderPayment], strict=False)

    async def _call(self, method: str, path: str, **options: Any) -> Any:
        try:
            self.breaker.before_call()
        except CircuitOpen as exc:
            raise ProviderUnavailable(str(exc)) from exc
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._attempts),
                wait=wait_exponential(multiplier=0.2, max=2),
                retry=retry_if_exception_type(_Retryable),
                reraise=True,
            ):
                with attempt:
                    answer = await self._once(method, path, **options)
        except _Retryable as exc:
            self.breaker.failed()
            raise ProviderUnavailable(str(exc)) from exc
        except ProviderRefused:
            self.breaker.succeeded()  # it answered: it is up
            raise
        self.breaker.succeeded()
        return answer

    async def _once(self, method: str, path: str, **options: Any) -> Any:
        try:
            response = await self._http.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise _Retryable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise ProviderRefused(f"HTTP {response.status_code}: {response.text[:200]}")
        return response.json()
