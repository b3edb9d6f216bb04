"""Apply the committed migrations (``astrocoffee migrate``, and ``run`` on start)."""

from __future__ import annotations

import contextlib
import io

import asyncpg
from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration

# Any constant works; it only has to be the same in every process of this service.
_MIGRATION_LOCK_KEY = 0x61737472_6F636F66  # "astrocof"
_APP = "db"


class MigrationError(RuntimeError):
    pass


async def apply_migrations(database_url: str) -> list[str]:
    """Run pending migrations, one process at a time; return the ids of those applied.

    Two replicas (or two ``serve`` processes) may start together; a session advisory lock
    makes the second wait and then find nothing left to do, instead of racing the DDL.
    Piccolo's own progress lines are kept back (on a fresh database they read "2 migrations
    already complete" and then "2 migrations not yet run"); callers say what happened.
    """
    lock_conn = await asyncpg.connect(database_url)
    try:
        await lock_conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
        await BaseMigrationManager().create_migration_table()
        before = set(await Migration.get_migrations_which_ran(app_name=_APP))
        with contextlib.redirect_stdout(io.StringIO()) as chatter:
            result = await run_forwards(app_name=_APP)
        if not result.success:
            raise MigrationError(f"migrations failed: {result.message}\n{chatter.getvalue()}")
        after = await Migration.get_migrations_which_ran(app_name=_APP)
        return [name for name in after if name not in before]
    finally:
        await lock_conn.close()


def describe(applied: list[str]) -> str:
    """One line for people: what ``apply_migrations`` did."""
    if not applied:
        return "database already up to date"
    plural = "s" if len(applied) != 1 else ""
    return f"applied {len(applied)} migration{plural} (last: {applied[-1]})"
