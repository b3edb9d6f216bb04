"""Fixtures the API tests share, beside the run-wide ones (tests/conftest.py)."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import SignedInStaff, hire, open_till


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> SignedInStaff:
    """A signed-in admin."""
    return await hire(client, "admin")


@pytest.fixture(params=["barista", "manager"])
async def store_staff(client: httpx.AsyncClient, request: pytest.FixtureRequest) -> SignedInStaff:
    """Staff of a store who are not admins: a test that takes it runs once as a barista and
    once as a manager of a fresh till's store (what only an admin may do, each is refused)."""
    till = await open_till()
    return await hire(client, request.param, [till.store_id])
