"""Apply the committed migrations (``astrocoffee migrate``, and ``run`` on start)."""

from __future__ import annotations

import asyncpg
from piccolo.apps.migrations.commands.forwards import run_forwards

# Any constant works; it only has to be the same in every process of this service.
_MIGRATION_LOCK_KEY = 0x61737472_6F636F66  # "astrocof"


class MigrationError(RuntimeError):
    pass


async def apply_migrations(database_url: str) -> None:
    """Run pending migrations, one process at a time.

    Two replicas (or two ``serve`` processes) may start together; a session advisory lock
    makes the second wait and then find nothing left to do, instead of racing the DDL.
    """
    lock_conn = await asyncpg.connect(database_url)
    try:
        await lock_conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
        result = await run_forwards(app_name="db")
        if not result.success:
            raise MigrationError(f"migrations failed: {result.message}")
    finally:
        await lock_conn.close()
