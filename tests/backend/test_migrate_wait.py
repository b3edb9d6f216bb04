"""``astrocoffee migrate --check`` and ``--wait``: what the app pods' init container runs so that
a plain ``kubectl apply`` never starts new code on an old schema (docs/deploy.md)."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator

import pytest

from db.schema_state import committed_migrations
from devkit.pgbouncer import running_pgbouncer
from tests.cli import SCRIPT, astrocoffee, run_env
from tests.db.scratch import scratch_database
from tests.servers import ROOT, RunServers


@pytest.fixture
async def empty_database(servers: RunServers) -> AsyncIterator[str]:
    """A database of its own with no table at all (a release before its first migrate)."""
    async with scratch_database(servers, "unmigrated") as url:
        yield url


def test_check_passes_on_a_migrated_database(servers: RunServers) -> None:
    result = astrocoffee("migrate", "--check", env=run_env(servers))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "database schema is current: no migration pending"


def test_check_fails_on_a_database_without_the_migrations_and_applies_nothing(
    servers: RunServers, empty_database: str
) -> None:
    env = run_env(servers, DATABASE_URL=empty_database)
    committed = committed_migrations()
    for _ in range(2):  # the first look created nothing the second would see
        result = astrocoffee("migrate", "--check", env=env)
        assert result.returncode == 1, result.stderr
        assert result.stdout.strip() == (
            f"{len(committed)} migrations pending (first: {committed[0]})"
        )


def test_wait_gives_up_after_its_time_with_a_non_zero_status(
    servers: RunServers, empty_database: str
) -> None:
    result = astrocoffee(
        "migrate", "--wait", "0.5", env=run_env(servers, DATABASE_URL=empty_database)
    )
    assert result.returncode == 1, result.stderr
    assert "pending" in result.stdout


def test_wait_returns_once_another_process_has_migrated(
    servers: RunServers, empty_database: str
) -> None:
    env = run_env(servers, DATABASE_URL=empty_database)
    waiting = subprocess.Popen(
        [str(SCRIPT), "migrate", "--wait", "120"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        migrated = astrocoffee("migrate", env=env)
        assert migrated.returncode == 0, migrated.stderr
        out, err = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
        waiting.wait()
    assert waiting.returncode == 0, err
    assert out.strip() == "database schema is current: no migration pending"


def test_check_and_wait_are_not_asked_together(servers: RunServers) -> None:
    result = astrocoffee("migrate", "--check", "--wait", "5", env=run_env(servers))
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


def test_check_works_through_pgbouncer_in_transaction_mode(servers: RunServers) -> None:
    """The app pods' init container has the app's settings: DATABASE_URL may be PgBouncer."""
    with running_pgbouncer(servers.database_url, pool_size=1) as bouncer:
        env = run_env(
            servers,
            DATABASE_URL=bouncer.url(servers.database),
            DATABASE_PGBOUNCER="true",
            DATABASE_MIGRATION_URL=servers.database_url,
        )
        for _ in range(2):  # the second on a server connection the first one used
            result = astrocoffee("migrate", "--check", env=env)
            assert result.returncode == 0, result.stderr
            assert result.stdout.strip() == "database schema is current: no migration pending"
