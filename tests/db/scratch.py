"""Scratch databases of the database tests: each test that needs a schema of its own (a
migration run from nothing, the tables as declared) makes it here and has it dropped after."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import asyncpg
from piccolo.table import sort_table_classes

from db.tables import ALL_TABLES
from devkit.databases import create_database, drop_database
from tests.servers import RunServers


@asynccontextmanager
async def scratch_database(servers: RunServers, purpose: str) -> AsyncIterator[str]:
    """A database of its own on the test server (its URL), dropped after."""
    name = f"astrocoffee_{purpose}_{secrets.token_hex(3)}"
    url = await create_database(servers.admin_url, name)
    try:
        yield url
    finally:
        await drop_database(servers.admin_url, name)


@asynccontextmanager
async def declared_schema(
    servers: RunServers,
    purpose: str,
    *,
    then: Iterable[str] = (),
) -> AsyncIterator[asyncpg.Connection]:
    """A scratch database with the tables db/tables declares, and then the statements
    ``then`` run on it."""
    async with scratch_database(servers, purpose) as url:
        connection = await asyncpg.connect(url)
        try:
            for table in sort_table_classes(list(ALL_TABLES)):
                for statement in table.create_table().ddl:
                    await connection.execute(statement)
            for statement in then:
                await connection.execute(statement)
            yield connection
        finally:
            await connection.close()
