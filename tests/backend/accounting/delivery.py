"""Handing the outbox to the shop's accounting system in a test, as the worker would."""

from __future__ import annotations

from backend.accounting.client import AccountingClient
from backend.accounting.outbox import DeliveryPolicy, deliver_due
from tests.conftest import Shop


async def deliver_everything(shop: Shop) -> None:
    """Deliver every document that is due to the shop's accounting system (a real HTTP
    fake), round after round until a round finds nothing left."""
    client = AccountingClient(url=shop.accounting_url, token=shop.accounting.token)
    try:
        while await deliver_due(client, DeliveryPolicy()):
            pass
    finally:
        await client.aclose()
