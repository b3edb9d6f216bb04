"""Apply the committed migrations (``astrocoffee migrate``, and ``run`` on start).

They run on the URL given, the primary itself (``DATABASE_MIGRATION_URL`` when
``DATABASE_URL`` points at PgBouncer): their lock is a session advisory lock, which
PgBouncer's transaction mode would leave behind on whichever server connection it lent.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import asyncpg
from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.postgres import PostgresEngine

from db.schema_state import committed_migrations

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
        with _piccolo_on(database_url):
            await BaseMigrationManager().create_migration_table()
            before = set(await Migration.get_migrations_which_ran(app_name=_APP))
            _refuse_unknown_history(before)
            with contextlib.redirect_stdout(io.StringIO()) as chatter:
                result = await run_forwards(app_name=_APP)
            if not result.success:
                raise MigrationError(f"migrations failed: {result.message}\n{chatter.getvalue()}")
            after = await Migration.get_migrations_which_ran(app_name=_APP)
        return [name for name in after if name not in before]
    finally:
        await lock_conn.close()


def _refuse_unknown_history(applied: set[str]) -> None:
    """A database that ran migrations but not this code's first one was made by another
    schema history: Piccolo would run the first release's migration over its tables and fail
    halfway. Before the first release the migrations were squashed into two (issue #25), so
    a development database from before that is the one case: say so, and how to start
    again, rather than fail inside a CREATE TABLE. (Migrations a newer release ran are fine:
    see ``db.schema_state``.)"""
    first = committed_migrations()[0]
    if applied and first not in applied:
        raise MigrationError(
            f"this database ran {len(applied)} migration(s) but not {first}, this code's "
            "first: it was made by an earlier, pre-release schema history. Drop it and "
            "migrate again (for the embedded server: remove the data folder, "
            "ASTROCOFFEE_DATA_DIR, default .data)."
        )


@contextlib.contextmanager
def _piccolo_on(database_url: str) -> Iterator[None]:
    """Piccolo's migrations on ``database_url`` rather than the engine of ``DATABASE_URL``.

    Piccolo finds its engine as ``DB`` in ``db.piccolo_conf`` each time a migration asks
    (``engine_finder``), and its ``Migration`` table keeps the one it found first: both point
    at a direct engine for the migrations, and back afterwards."""
    from db import piccolo_conf

    pooled = piccolo_conf.DB
    if pooled.config.get("dsn") == database_url:
        yield
        return
    piccolo_conf.DB = Migration._meta.db = PostgresEngine(config={"dsn": database_url})
    try:
        yield
    finally:
        piccolo_conf.DB = Migration._meta.db = pooled


def describe(applied: list[str]) -> str:
    """One line for people: what ``apply_migrations`` did."""
    if not applied:
        return "database already up to date"
    plural = "s" if len(applied) != 1 else ""
    return f"applied {len(applied)} migration{plural} (last: {applied[-1]})"
