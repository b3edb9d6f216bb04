from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import uuid

import httpx
import pytest

from db.embedded import AUTOVACUUM_COST_DELAY
from db.tables import Account
from devkit.ports import free_port
from tests.cli import astrocoffee, run_env
from tests.conftest import LiveServer
from tests.factories import buy, purchase_body
from tests.servers import ROOT, RunServers


def test_with_no_urls_the_commands_start_embedded_servers_in_the_data_folder(
    servers: RunServers,
) -> None:
    # A folder of the project rather than pytest's tmp_path: as root, pgserver runs
    # PostgreSQL as its own user, which cannot enter root's private temporary folders.
    data_dir = ROOT / ".data" / f"cli-test-{secrets.token_hex(3)}"
    env = run_env(servers, ASTROCOFFEE_DATA_DIR=str(data_dir))
    del env["DATABASE_URL"], env["REDIS_URL"]
    try:
        migrated = astrocoffee("migrate", env=env)
        assert migrated.returncode == 0, migrated.stderr
        assert "embedded PostgreSQL and Redis" in migrated.stderr
        # What happened, once: Piccolo's "2 migrations already complete" followed by
        # "2 migrations not yet run" on a fresh database is kept back.
        assert re.fullmatch(r"applied \d+ migrations? \(last: .+\)", migrated.stdout.strip())
        assert "not yet run" not in migrated.stdout + migrated.stderr
        assert (data_dir / "pg" / "PG_VERSION").exists()
        # Autovacuum spread out, as the embedded server shares its CPUs with the app.
        kept = (data_dir / "pg" / "postgresql.auto.conf").read_text()
        assert f"autovacuum_vacuum_cost_delay = '{AUTOVACUUM_COST_DELAY}'" in kept
        assert (data_dir / "redis.db.settings").exists() or (data_dir / "redis.db").exists()

        verified = astrocoffee("ledger", "verify", env=env)
        assert verified.returncode == 0, verified.stderr
        assert "0 accounts, 0 mismatches" in verified.stdout
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def test_production_refuses_to_start_with_development_settings(servers: RunServers) -> None:
    result = astrocoffee("migrate", env=run_env(servers, ASTROCOFFEE_ENVIRONMENT="production"))
    assert result.returncode == 2
    assert "refusing to start in production" in result.stderr


async def test_seed_demo_prints_a_terminal_key_that_works(
    servers: RunServers, client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    seeded = astrocoffee("seed-demo", env=run_env(servers))
    assert seeded.returncode == 0, seeded.stderr
    key = re.search(r"(ack_[A-Za-z0-9_-]+)", seeded.stdout)
    card = re.search(r"card (\d{16})", seeded.stdout)
    assert key, seeded.stdout
    assert card, seeded.stdout
    assert "curl" in seeded.stdout
    assert "/v1/auth/otp" in seeded.stdout
    # Each run of the printed purchase is a new sale (a fixed receipt would be a replay).
    assert '"external_id": "receipt-\'$(date +%s%N)\'"' in seeded.stdout

    response = await client.post(
        "/v1/purchases",
        json=purchase_body(card.group(1)),
        headers={"X-Api-Key": key.group(1), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    assert response.json()["balance"]["available"] == 150 + 17

    again = astrocoffee("seed-demo", env=run_env(servers))
    assert again.returncode == 0
    assert "ack_" not in again.stdout  # the key is shown once
    assert "seed-demo --new-terminal" in again.stdout


@pytest.mark.corrupts_ledger
async def test_ledger_verify_finds_a_balance_that_disagrees_with_the_ledger(
    servers: RunServers, client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    from tests.factories import log_in, open_till

    till = await open_till()
    member = await log_in(client, live_server.sms)
    await buy(client, till, purchase_body(member.card_number))
    assert astrocoffee("ledger", "verify", env=run_env(servers)).returncode == 0

    await Account.update({Account.available: 1000}).where(
        Account.member == uuid.UUID(member.member_id)
    )
    result = astrocoffee("ledger", "verify", env=run_env(servers))
    assert result.returncode == 1
    assert "MISMATCH" in result.stdout
    assert "(1000, 0, 0)" in result.stdout
    assert "(17, 0, 0)" in result.stdout


# Frictions met on a fresh machine (issue #18): each mistake is one line and exit code 2,
# never a traceback or argparse's usage block.


def one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    # The JSON log lines (which servers are used) may come before it.
    lines = [line for line in result.stderr.splitlines() if line.startswith("astrocoffee")]
    assert len(lines) == 1, result.stderr
    return lines[0]


ADMIN = ("create-admin", "--email", "newcomer@astrocoffee.test", "--name", "Newcomer")


def test_create_admin_without_a_terminal_says_to_pipe_the_password(servers: RunServers) -> None:
    # stdin="" is a pipe, as in a script or CI: getpass used to die with an EOFError.
    line = one_clear_line(astrocoffee(*ADMIN, env=run_env(servers), stdin=""))
    assert "--password-stdin" in line
    assert "at least 12 characters" in line


def test_create_admin_with_an_empty_standard_input_says_no_password_was_given(
    servers: RunServers,
) -> None:
    result = astrocoffee(*ADMIN, "--password-stdin", env=run_env(servers), stdin="")
    assert "no password was given" in one_clear_line(result)


def test_create_admin_states_the_password_rule(servers: RunServers) -> None:
    weak = astrocoffee(*ADMIN, "--password-stdin", env=run_env(servers), stdin="short\n")
    assert "at least 12 characters" in one_clear_line(weak)
    helped = astrocoffee("create-admin", "--help", env=run_env(servers))
    assert helped.returncode == 0
    assert "at least 12 characters" in " ".join(helped.stdout.split())


def test_create_admin_without_arguments_names_them_in_one_line(servers: RunServers) -> None:
    line = one_clear_line(astrocoffee("create-admin", env=run_env(servers), stdin=""))
    assert "--email" in line
    assert "--name" in line
    assert "--help" in line


def test_reconcile_without_the_external_systems_says_which_setting_is_missing(
    servers: RunServers,
) -> None:
    # Outside development nothing is defaulted: the SettingsError is one line, not a traceback.
    line = one_clear_line(astrocoffee("reconcile", "--date", "2026-01-01", env=run_env(servers)))
    assert "ASTROCOFFEE_ACCOUNTING_URL" in line


def test_reconcile_says_when_the_accounting_system_does_not_answer(servers: RunServers) -> None:
    # What a new shell meets when `make run` (and so the fake accounting system) is not up.
    closed = f"http://127.0.0.1:{free_port()}"
    env = run_env(
        servers,
        ASTROCOFFEE_ACCOUNTING_URL=closed,
        ASTROCOFFEE_PAYMENT_PROVIDER_URL=closed,
    )
    line = one_clear_line(astrocoffee("reconcile", "--date", "2026-01-01", env=env))
    assert f"cannot read the accounting system at {closed}" in line


def test_migrate_says_once_that_the_database_is_up_to_date(servers: RunServers) -> None:
    # The tests' database is migrated at start; Piccolo's own lines are not repeated.
    result = astrocoffee("migrate", env=run_env(servers))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "database already up to date"
