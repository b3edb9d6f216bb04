"""The test run's own PostgreSQL database and Redis key space, on real servers.

With DATABASE_URL and REDIS_URL set (CI's second pass), those servers are used; otherwise
the embedded ones start in the project's data folder, as ``make run`` does. Either way the
run creates a fresh database of its own and a Redis key prefix of its own, so it never
touches another run's data, and drops the database at the end (``devkit.databases``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.databases import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RunServers:
    admin_url: str
    database_url: str
    database: str
    redis_url: str
    redis_prefix: str
    embedded: bool
    handles: tuple[Any, ...]


def start() -> RunServers:
    database_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    handles: tuple[Any, ...] = ()
    embedded = not (database_url and redis_url)
    if embedded:
        from db.embedded import start_embedded_servers

        data_dir = Path(os.environ.get("ASTROCOFFEE_DATA_DIR", ROOT / ".data"))
        servers = start_embedded_servers(data_dir.resolve())
        database_url, redis_url, handles = servers.database_url, servers.redis_url, servers.handles
    assert database_url
    assert redis_url
    database = f"astrocoffee_test_{os.getpid()}_{secrets.token_hex(3)}"
    return RunServers(
        admin_url=database_url,
        database_url=asyncio.run(create_database(database_url, database)),
        database=database,
        redis_url=redis_url,
        redis_prefix=f"test-{secrets.token_hex(4)}:",
        embedded=embedded,
        handles=handles,
    )


def stop(servers: RunServers) -> None:
    asyncio.run(drop_database(servers.admin_url, servers.database))
