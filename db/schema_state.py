"""Whether the database has every migration this image carries (``astrocoffee migrate --check``
and ``--wait``, the app pods' init container in Kubernetes).

A plain ``kubectl apply`` creates the migrate Job and rolls the Deployments at the same time;
new pods wait in their init container until the Job's migrations are in, so the new code never
serves an old schema. Read-only: one plain query on one connection, no Piccolo pool and no
prepared statement kept, so it works the same straight to PostgreSQL or through PgBouncer.
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg
from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.conf.apps import Finder

_APP = "db"
_REPORT_EVERY_S = 30.0

log = logging.getLogger("astrocoffee")


def committed_migrations() -> list[str]:
    """The ids of the migrations in this image's ``db/migrations``, oldest first."""
    folder = Finder().get_app_config(_APP).resolved_migrations_folder_path
    manager = BaseMigrationManager()
    return manager.get_migration_ids(manager.get_migration_modules(folder))


async def pending_migrations(database_url: str) -> list[str]:
    """The committed migrations the database has not run yet (all of them when it has no
    migration table). Migrations the database ran that this image does not know (a newer
    release ran them) do not count: the schema only ever gains what older code ignores."""
    connection = await asyncpg.connect(database_url, statement_cache_size=0)
    try:
        exists = await connection.fetchval("SELECT to_regclass('migration') IS NOT NULL")
        rows = (
            await connection.fetch("SELECT name FROM migration WHERE app_name = $1", _APP)
            if exists
            else []
        )
    finally:
        await connection.close()
    ran = {row["name"] for row in rows}
    return [name for name in committed_migrations() if name not in ran]


async def wait_until_migrated(
    database_url: str, *, timeout_s: float, poll_s: float = 2.0
) -> list[str]:
    """Poll until no committed migration is pending or ``timeout_s`` has passed; what is
    still pending (empty: the schema is current). A database that cannot be reached yet
    counts as pending: the init container keeps waiting rather than failing the pod."""
    deadline = time.monotonic() + timeout_s
    next_report = time.monotonic() + _REPORT_EVERY_S
    while True:
        try:
            pending = await pending_migrations(database_url)
        except (OSError, asyncpg.PostgresError) as exc:
            pending = [f"(database not reachable: {exc or type(exc).__name__})"]
        if not pending or time.monotonic() >= deadline:
            return pending
        if time.monotonic() >= next_report:  # `kubectl logs -c wait-for-migrations` says why
            log.info("waiting for the migrations: %s", describe_pending(pending))
            next_report += _REPORT_EVERY_S
        await asyncio.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))


def describe_pending(pending: list[str]) -> str:
    """One line for people: what ``pending_migrations`` found."""
    if not pending:
        return "database schema is current: no migration pending"
    plural = "s" if len(pending) != 1 else ""
    return f"{len(pending)} migration{plural} pending (first: {pending[0]})"
