"""The sales-accounting system's HTTP API, as we use it (protocol: docs/integrations.md)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx


class DeliveryFailed(Exception):
    """The accounting system did not acknowledge a document."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


class AccountingClient:
    def __init__(self, *, url: str, token: str | None, timeout_s: float = 5.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"), headers=headers, timeout=httpx.Timeout(timeout_s)
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def book(self, message_id: uuid.UUID, document: bytes) -> str:
        """Book one document; return the accounting system's document id.

        The message id is the Idempotency-Key: a document delivered again (after a timeout,
        or a worker that died before recording the answer) is booked once and answered with
        the same document id.
        """
        try:
            response = await self._http.post(
                "/v1/documents",
                content=document,
                headers={"Idempotency-Key": str(message_id), "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:  # connect errors, timeouts, broken connections
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        if response.status_code in (200, 201):
            try:
                return str(response.json()["document_id"])
            except (ValueError, KeyError, TypeError) as exc:
                raise DeliveryFailed("the answer has no document_id", retryable=True) from exc
        # 5xx, timeouts and throttling pass; any other refusal will not change by retrying.
        retryable = response.status_code >= 500 or response.status_code in (408, 425, 429)
        raise DeliveryFailed(
            f"HTTP {response.status_code}: {response.text[:200]}", retryable=retryable
        )

    async def booked_on(self, business_date: date) -> list[dict[str, Any]]:
        """Every document the accounting system booked for a business date."""
        response = await self._http.get(
            "/v1/documents", params={"business_date": business_date.isoformat()}
        )
        response.raise_for_status()
        documents: list[dict[str, Any]] = response.json()["documents"]
        return documents
