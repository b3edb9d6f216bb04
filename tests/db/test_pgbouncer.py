"""Why ``db.pgbouncer`` exists: asyncpg as it comes breaks behind Debian's PgBouncer in
transaction mode, and with the options it gives it does not."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from db.pgbouncer import behind_pgbouncer, connection_config
from devkit import pgbouncer as devkit_pgbouncer
from devkit.pgbouncer import PgBouncer, PgBouncerMissing, running_pgbouncer
from tests.servers import RunServers

READ_ONLY = {"default_transaction_read_only": "on", "application_name": "astrocoffee-test"}


@pytest.fixture
def pgbouncer(servers: RunServers) -> Iterator[PgBouncer]:
    with running_pgbouncer(servers.database_url, pool_size=2) as bouncer:
        yield bouncer


async def _reuse_a_statement_on_another_server_connection(config: Mapping[str, Any]) -> None:
    """One client runs a statement twice while another holds the server connection the first
    run used, so that PgBouncer lends the second run another one."""
    options = dict(config)
    dsn = options.pop("dsn")
    first = await asyncpg.connect(dsn, **options)
    second = await asyncpg.connect(dsn, **options)
    try:
        assert await first.fetchval("SELECT $1::int + 1", 1) == 2
        async with second.transaction():
            assert await second.fetchval("SELECT $1::int", 7) == 7  # holds that connection
            assert await first.fetchval("SELECT $1::int + 1", 2) == 3
    finally:
        await first.close()
        await second.close()


async def test_asyncpg_as_it_comes_breaks_behind_transaction_pooling(
    pgbouncer: PgBouncer, servers: RunServers
) -> None:
    url = pgbouncer.url(servers.database)
    # Its statement cache names statements on the server connection of the moment.
    with pytest.raises(asyncpg.InvalidSQLStatementNameError):
        await _reuse_a_statement_on_another_server_connection({"dsn": url})
    # PgBouncer refuses a startup parameter it does not track.
    with pytest.raises(asyncpg.ProtocolViolationError, match="unsupported startup parameter"):
        await asyncpg.connect(url, server_settings=READ_ONLY)


async def test_with_its_options_asyncpg_works_behind_transaction_pooling(
    pgbouncer: PgBouncer, servers: RunServers
) -> None:
    config = connection_config(
        dsn=pgbouncer.url(servers.database),
        command_timeout=10,
        pgbouncer=True,
        server_settings=READ_ONLY,
    )
    assert config["statement_cache_size"] == 0
    assert config["server_settings"] == {"application_name": "astrocoffee-test"}
    await _reuse_a_statement_on_another_server_connection(config)


def test_without_pgbouncer_the_options_are_as_before() -> None:
    config = connection_config(
        dsn="postgresql://db/x", command_timeout=10, pgbouncer=False, server_settings=READ_ONLY
    )
    assert config == {
        "dsn": "postgresql://db/x",
        "command_timeout": 10,
        "server_settings": READ_ONLY,
    }


def test_the_switch_says_yes_or_no_and_nothing_else() -> None:
    assert behind_pgbouncer("DATABASE_PGBOUNCER", {"DATABASE_PGBOUNCER": "true"})
    assert behind_pgbouncer("DATABASE_PGBOUNCER", {"DATABASE_PGBOUNCER": "1"})
    assert not behind_pgbouncer("DATABASE_PGBOUNCER", {})
    assert not behind_pgbouncer("DATABASE_PGBOUNCER", {"DATABASE_PGBOUNCER": "false"})
    with pytest.raises(RuntimeError, match="DATABASE_PGBOUNCER='maybe'"):
        behind_pgbouncer("DATABASE_PGBOUNCER", {"DATABASE_PGBOUNCER": "maybe"})


def test_a_missing_pgbouncer_fails_with_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(devkit_pgbouncer, "_PLACES", ())
    with pytest.raises(PgBouncerMissing, match="apt-get install pgbouncer"):
        devkit_pgbouncer.binary()


# What would keep state on a server connection past its transaction, which PgBouncer's
# transaction mode lends to another client next: session advisory locks, LISTEN, session
# SETs, named prepared statements. Only the migration lock may, on its direct connection.
SESSION_STATE = re.compile(
    r"pg_(?:try_)?advisory_lock(?:_shared)?\s*\("
    r"|\bLISTEN\s+\w"
    r"|\badd_listener\s*\("
    r"|set_config\s*\([^)]*\bfalse\s*\)"
    r"|[\"']\s*SET\s+(?!LOCAL\b)(?:SESSION\s+)?\w+\s+(?:TO|=)"
    r"|\.prepare\s*\("
    r"|statement_cache_size\s*=\s*[1-9]",
    re.IGNORECASE,
)
ALLOWED = {"db/migrate.py"}  # its session lock is taken on DATABASE_MIGRATION_URL


def test_no_code_keeps_session_state_on_a_pooled_connection() -> None:
    root = Path(__file__).resolve().parents[2]
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for package in ("backend", "db", "realtime")
        for path in sorted((root / package).rglob("*.py"))
        if str(path.relative_to(root)) not in ALLOWED
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SESSION_STATE.search(line)
    ]
    assert not found, "session state behind PgBouncer's transaction mode:\n" + "\n".join(found)
