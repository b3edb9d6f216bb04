"""The external systems' books, as reconciliation reads them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from backend.accounting.client import AccountingClient
from backend.orders.payment_provider import PaymentProvider, ProviderPayment
from backend.settings import Settings, SettingsError


class ExternalSystems:
    def __init__(self, *, accounting: AccountingClient, provider: PaymentProvider) -> None:
        self._accounting = accounting
        self._provider = provider

    async def accounting_documents(self, day: date) -> list[dict[str, Any]]:
        return await self._accounting.booked_on(day)

    async def provider_payments(self, day: date) -> list[ProviderPayment]:
        return await self._provider.payments_on(day)


def accounting_client(settings: Settings) -> AccountingClient | None:
    if settings.accounting_url is None:
        return None
    return AccountingClient(url=settings.accounting_url, token=settings.accounting_token)


def payment_provider(settings: Settings) -> PaymentProvider | None:
    if settings.payment_provider_url is None:
        return None
    return PaymentProvider(
        url=settings.payment_provider_url,
        token=settings.payment_provider_token,
        timeout_s=settings.payment_timeout_s,
    )


@asynccontextmanager
async def external_books(settings: Settings) -> AsyncIterator[ExternalSystems]:
    accounting, provider = accounting_client(settings), payment_provider(settings)
    if accounting is None or provider is None:
        raise SettingsError(
            "reconciliation needs ASTROCOFFEE_ACCOUNTING_URL and ASTROCOFFEE_PAYMENT_PROVIDER_URL"
        )
    try:
        yield ExternalSystems(accounting=accounting, provider=provider)
    finally:
        await accounting.aclose()
        await provider.aclose()
