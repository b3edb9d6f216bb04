from __future__ import annotations

import re
import secrets
import shutil
import uuid

import httpx
import pytest

from db.tables import Account
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
        assert (data_dir / "pg" / "PG_VERSION").exists()
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
