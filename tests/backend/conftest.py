"""Fixtures the API tests share, beside the run-wide ones (tests/conftest.py)."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import SignedInStaff, hire


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> SignedInStaff:
    """A signed-in admin."""
    return await hire(client, "admin")
