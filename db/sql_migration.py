"""Migrations written as SQL statements: what Piccolo's auto migrations cannot write (triggers,
partial indexes, moving existing data), run forwards or backwards one statement at a time
(asyncpg prepares each statement it is given, and a prepared statement is a single one).

A migration module in ``db/migrations/`` declares ``FORWARDS_SQL`` and ``BACKWARDS_SQL`` and
ends with ``forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder


def statements_migration(
    migration_id: str, description: str, forwards: Sequence[str], backwards: Sequence[str]
) -> Callable[[], Awaitable[MigrationManager]]:
    """Piccolo's ``forwards`` entry point for a migration made of ``forwards`` (undone by
    ``backwards``)."""

    async def run(statements: Sequence[str]) -> None:
        engine = engine_finder()
        assert engine is not None, "no Piccolo engine configured"
        for statement in statements:
            await engine.run_ddl(statement)

    # Coroutine functions, not lambdas: Piccolo awaits a raw step only when
    # inspect.iscoroutinefunction says it is one, and calls anything else without awaiting.
    async def run_forwards() -> None:
        await run(forwards)

    async def run_backwards() -> None:
        await run(backwards)

    async def manager() -> MigrationManager:
        migration = MigrationManager(
            migration_id=migration_id, app_name="db", description=description
        )
        migration.add_raw(run_forwards)
        migration.add_raw_backwards(run_backwards)
        return migration

    return manager
