"""The service behind Debian's PgBouncer in transaction mode, as deployments run it.

Two ``astrocoffee serve`` processes whose ``DATABASE_URL`` (and replica URL) point at a real
PgBouncer that lends at most two server connections: the two-process slice, purchases at
once from both, idempotent retries, refunds, a WebSocket resume replayed from PostgreSQL,
``ledger verify`` clean. Migrations go past it (``DATABASE_MIGRATION_URL``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from devkit.pgbouncer import PgBouncer, running_pgbouncer
from devkit.ports import free_port
from tests.cli import astrocoffee, run_env
from tests.e2e import test_two_processes
from tests.e2e.conftest import Replica, login, serve_processes
from tests.factories import Till, open_till, purchase_body
from tests.servers import RunServers

pytestmark = pytest.mark.e2e

# Fewer server connections than the two processes' pools hold (2 x up to 10): transaction
# pooling has to share them, which works only if nothing keeps session state.
POOL_SIZE = 2


@pytest.fixture
def pgbouncer(servers: RunServers) -> Iterator[PgBouncer]:
    with running_pgbouncer(servers.database_url, pool_size=POOL_SIZE) as bouncer:
        yield bouncer


def pooled_env(servers: RunServers, pgbouncer: PgBouncer) -> dict[str, str]:
    """The settings of a process whose database URLs point at ``pgbouncer``."""
    url = pgbouncer.url(servers.database)
    return {
        "DATABASE_URL": url,
        "DATABASE_PGBOUNCER": "true",
        "DATABASE_REPLICA_URL": url,  # lag-tolerant reads: a second pool, through it too
        "DATABASE_REPLICA_PGBOUNCER": "true",
        "DATABASE_MIGRATION_URL": servers.database_url,
    }


@pytest.fixture
def behind_pgbouncer(servers: RunServers, pgbouncer: PgBouncer) -> Iterator[list[Replica]]:
    with serve_processes(servers, 2, **pooled_env(servers, pgbouncer)) as replicas:
        yield replicas
    # Every client connection of the processes logged in through PgBouncer.
    assert f"login attempt: db={servers.database} " in pgbouncer.log_text()


async def test_the_two_process_slice_through_pgbouncer(behind_pgbouncer: list[Replica]) -> None:
    await test_two_processes.test_a_sale_on_process_a_reaches_a_phone_on_process_b(behind_pgbouncer)


async def _buy(
    api: httpx.AsyncClient, till: Till, card: str, key: str, amount: int = 35000
) -> httpx.Response:
    body = purchase_body(card, amount=amount, external_id=f"receipt-{key}")
    return await api.post(
        "/v1/purchases", json=body, headers={**till.headers, "Idempotency-Key": key}
    )


async def _me(api: httpx.AsyncClient, tokens: dict[str, str]) -> dict[str, Any]:
    answer = await api.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert answer.status_code == 200, answer.text
    me: dict[str, Any] = answer.json()
    return me


async def test_sales_refunds_retries_and_a_resume_through_pgbouncer(
    behind_pgbouncer: list[Replica], servers: RunServers, pgbouncer: PgBouncer
) -> None:
    a, b = (replica.address for replica in behind_pgbouncer)
    till = await open_till()
    async with (
        httpx.AsyncClient(base_url=f"http://{a}", timeout=20) as api_a,
        httpx.AsyncClient(base_url=f"http://{b}", timeout=20) as api_b,
    ):
        members = [await login(api) for api in (api_a, api_b, api_a)]
        cards = [(await _me(api_a, tokens))["card_number"] for tokens in members]

        # 12 purchases at once, from both processes, over two server connections.
        sales = await asyncio.gather(
            *(_buy((api_a, api_b)[n % 2], till, cards[n % 3], key=f"sale-{n}") for n in range(12))
        )
        assert [sale.status_code for sale in sales] == [201] * 12, [s.text for s in sales]

        # The same key twice at once: one sale (the other waits its turn: 409, or a replay).
        key = uuid.uuid4().hex
        twins = await asyncio.gather(*(_buy(api, till, cards[0], key) for api in (api_a, api_b)))
        assert sorted(t.status_code for t in twins)[0] == 201, [t.text for t in twins]
        assert {t.status_code for t in twins} <= {201, 409}
        retried = await _buy(api_b, till, cards[0], key)
        assert retried.status_code == 201
        assert retried.headers["Idempotent-Replayed"] == "true"
        first = next(t for t in twins if t.status_code == 201)
        assert retried.json()["purchase_id"] == first.json()["purchase_id"]

        # A partial refund, retried on the other process: one refund.
        path = f"/v1/purchases/{first.json()['purchase_id']}/refunds"
        refund_headers = {**till.headers, "Idempotency-Key": "refund-1"}
        refund = await api_a.post(path, json={"amount": 10000}, headers=refund_headers)
        assert refund.status_code == 201, refund.text
        again = await api_b.post(path, json={"amount": 10000}, headers=refund_headers)
        assert again.status_code == 201
        assert again.json() == refund.json()

        # 5 sales of 35000 (17 points each) less what the refund took back.
        balance = (await _me(api_b, members[0]))["balance"]["available"]
        assert refund.json()["points_reversed"] > 0
        assert balance == 5 * 17 - refund.json()["points_reversed"]
        history = await api_a.get(
            "/v1/me/transactions",
            headers={"Authorization": f"Bearer {members[0]['access_token']}"},
        )
        assert history.status_code == 200, history.text
        assert len(history.json()["items"]) == 6

        await _resume_from_the_start(b, members[0]["access_token"])

    verify = astrocoffee("ledger", "verify", env=run_env(servers, **pooled_env(servers, pgbouncer)))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "0 mismatches" in verify.stdout


async def _resume_from_the_start(address: str, token: str) -> None:
    """A phone that saw nothing resumes from seq 0: every event is replayed from PostgreSQL
    (through PgBouncer), in order, none missing."""
    async with websockets.connect(f"ws://{address}/v1/ws?token={token}") as phone:
        ready = json.loads(await asyncio.wait_for(phone.recv(), 10))
        assert ready["type"] == "ready"
        assert ready["last_seq"] > 0
        await phone.send(json.dumps({"type": "resume", "last_seq": 0}))
        seqs: list[int] = []
        while not seqs or seqs[-1] < ready["last_seq"]:
            frame = json.loads(await asyncio.wait_for(phone.recv(), 10))
            assert frame["type"] != "resync", frame  # a short gap is replayed, not refetched
            if "seq" in frame and frame.get("stream") != "broadcast":
                seqs.append(frame["seq"])
        assert seqs == list(range(1, ready["last_seq"] + 1))


def test_migrations_go_past_pgbouncer(servers: RunServers) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/{servers.database}"
    pooled = {"DATABASE_URL": nowhere, "DATABASE_PGBOUNCER": "true"}
    # Nothing listens at DATABASE_URL: the migrations used the direct URL only.
    direct = astrocoffee(
        "migrate", env=run_env(servers, DATABASE_MIGRATION_URL=servers.database_url, **pooled)
    )
    assert direct.returncode == 0, direct.stdout + direct.stderr
    assert "database already up to date" in direct.stdout
    # Through PgBouncer they would not be safe (their lock is a session lock): refused.
    refused = astrocoffee("migrate", env=run_env(servers, **pooled))
    assert refused.returncode == 2
    assert "DATABASE_MIGRATION_URL" in refused.stderr
