"""Fixtures of the accounting tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backend.accounting.client import AccountingClient
from tests.conftest import Shop


@pytest.fixture
async def accounting(shop: Shop) -> AsyncIterator[AccountingClient]:
    """A client of the shop's accounting system (a real HTTP fake), as the worker's."""
    client = AccountingClient(url=shop.accounting_url, token=shop.accounting.token, timeout_s=1)
    yield client
    await client.aclose()
