"""Lagging reads go to the read replica node when one is configured; writes never do.

The "replica" here is a second, read-only pool on the test database (a streaming replica
needs a second server): a write routed to it would fail, and it records what it ran.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

from db import piccolo_conf
from db.pool import lagging_reads
from tests.conftest import LiveServer
from tests.factories import buy, log_in, open_till, purchase_body
from tests.servers import RunServers


class RecordingEngine(PostgresEngine):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.statements: list[str] = []

    async def run_querystring(self, querystring: QueryString, in_pool: bool = True) -> Any:
        self.statements.append(str(querystring))
        return await super().run_querystring(querystring, in_pool)


@pytest.fixture
async def replica(servers: RunServers) -> AsyncIterator[RecordingEngine]:
    node = RecordingEngine(
        config={
            "dsn": servers.database_url,
            "server_settings": {"default_transaction_read_only": "on"},
        }
    )
    await node.start_connection_pool(min_size=1, max_size=2)
    piccolo_conf.DB.extra_nodes[piccolo_conf.REPLICA] = node
    try:
        yield node
    finally:
        del piccolo_conf.DB.extra_nodes[piccolo_conf.REPLICA]
        await node.close_connection_pool()


async def test_without_a_replica_lagging_reads_use_the_primary() -> None:
    assert lagging_reads() is None


async def test_history_is_read_from_the_replica_and_sales_written_to_the_primary(
    client: httpx.AsyncClient, live_server: LiveServer, replica: RecordingEngine
) -> None:
    assert lagging_reads() == piccolo_conf.REPLICA
    till = await open_till()
    member = await log_in(client, live_server.sms)
    sale = await buy(client, till, purchase_body(member.card_number, amount=35000))
    assert sale.status_code == 201, sale.text  # a write on the read-only node would fail

    history = await client.get("/v1/me/transactions", headers=member.headers)
    assert history.status_code == 200
    assert [item["points"] for item in history.json()["items"]] == [17]
    # The replica ran the history's two reads and nothing else.
    assert len(replica.statements) == 2, replica.statements
    assert all(s.lstrip().upper().startswith("SELECT") for s in replica.statements)
    assert "ledger_entry" in replica.statements[1]
