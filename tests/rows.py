"""The database's rows in the shape a test's assertions compare them."""

from __future__ import annotations

from typing import Any

from db import sql


async def tuples(query: str) -> list[tuple[Any, ...]]:
    """The rows of ``query``, each a tuple of its columns in the order selected."""
    return [tuple(row.values()) for row in await sql.fetch(query)]
