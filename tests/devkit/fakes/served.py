"""A fake external system served in the tests' event loop, with a client that carries its
bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.conftest import serving


@asynccontextmanager
async def client_of(fake: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Serves ``fake`` (a devkit fake with ``app()``, ``token`` and ``hang``) and yields a
    client of it; a request its ``hang`` still holds is let go before the server stops."""
    async with (
        serving(fake.app()) as address,
        httpx.AsyncClient(
            base_url=f"http://{address}",
            headers={"Authorization": f"Bearer {fake.token}"},
            timeout=5,
        ) as http,
    ):
        try:
            yield http
        finally:
            fake.hang = False
