"""devkit.seed writes what the services write: the app takes its tills' keys and its members'
tokens, and starting points written in bulk verify (the after-test ``ledger verify``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from devkit.seed import free_run_number, insert_members, seed
from tests.conftest import LiveServer
from tests.factories import purchase_body
from tests.servers import RunServers


async def test_seeded_tills_and_members_are_accepted_by_the_app(
    servers: RunServers, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    settings = live_server.app.state.settings
    seeded = await seed(
        servers.database_url,
        servers.redis_url,
        redis_prefix=settings.redis_prefix,
        secret_key=settings.secret_key,
        members=3,
        stores=2,
        tills_per_store=2,
    )
    assert len(seeded.stores) == 2
    assert len(seeded.till_keys) == 4
    assert len({m.card_number for m in seeded.members}) == 3
    member = seeded.members[-1]
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {member.token}"})
    assert me.status_code == 200
    assert (me.json()["phone"], me.json()["card_number"]) == (member.phone, member.card_number)
    sale = await client.post(
        "/v1/purchases",
        json=purchase_body(member.card_number),
        headers={"X-Api-Key": seeded.till_keys[-1], "Idempotency-Key": uuid.uuid4().hex},
    )
    assert sale.status_code == 201, sale.text
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": member.refresh_token})
    assert refreshed.status_code == 200


async def test_starting_points_are_written_as_the_ledger_would(servers: RunServers) -> None:
    connection = await asyncpg.connect(servers.database_url)
    try:
        async with connection.transaction():
            run = await free_run_number(connection, code_prefix="T")
            members = await insert_members(
                connection,
                2,
                run=run,
                starting_points=500,
                points_expire_at=datetime.now(UTC) + timedelta(days=365),
            )
        documents = await connection.fetchval(
            "SELECT count(*) FROM outbox_message WHERE kind = 'points_adjustment'"
        )
    finally:
        await connection.close()
    assert documents == 2
    assert all(member.phone.startswith(f"+7{run}") for member in members)
