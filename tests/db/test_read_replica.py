"""Lag-tolerant reads on a real streaming replica, its lag bound, and the fall back to the
primary when it lags or is down.

For these tests the app's engine points at a primary of their own with a replica cloned
from it by ``pg_basebackup -R`` (``tests/db/streaming.py`` says why not the run's server);
the rest of the run is untouched. A read proves where it ran by what it sees: with the
replica's replay paused, the replica has not got a sale the primary has.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from piccolo.engine.postgres import PostgresEngine

from backend.campaigns.catalogue import forget_local_copies
from backend.loyalty.rules import forget_cached_rules
from backend.ops.replica_lag import REPLICA_LAG, REPLICA_SERVING, replica_check, sample_replica_lag
from db import piccolo_conf
from db.migrate import apply_migrations
from db.pool import lagging_reads
from db.replica import MAX_LAG_ENV, REPLICA, ReplicaWatch, replica_engine, start_watching, watching
from devkit.databases import create_database
from devkit.ports import free_port
from tests.conftest import LiveServer
from tests.db.streaming import StreamingPair, make_primary
from tests.factories import LoggedInMember, Till, buy, log_in, open_till, purchase_body
from tests.servers import RunServers

MAX_LAG_S = 0.5


@pytest.fixture(scope="module")
async def pair(servers: RunServers) -> AsyncIterator[StreamingPair]:
    admin = await asyncpg.connect(servers.admin_url)
    try:
        bindir = await admin.fetchval("SELECT setting FROM pg_config WHERE name = 'BINDIR'")
    finally:
        await admin.close()
    made = await asyncio.to_thread(make_primary, Path(bindir))
    try:
        # The schema first, so that the clone starts with it.
        await apply_migrations(await create_database(made.primary.url(), "astrocoffee"))
        await asyncio.to_thread(made.clone_replica)
        await asyncio.to_thread(made.start, made.replica)
        yield made
    finally:
        await asyncio.to_thread(made.close)


@pytest.fixture
async def replicated(pair: StreamingPair, live_server: LiveServer) -> AsyncIterator[ReplicaWatch]:
    """The app's primary is the pair's, its replica the pair's replica, watched every 0.1 s
    with a bound of 0.5 s; back as they were after."""
    db = piccolo_conf.DB
    primary_url = pair.primary.url("astrocoffee")
    pool = await asyncpg.create_pool(**{**db.config, "dsn": primary_url}, min_size=1, max_size=4)
    saved_pool, saved_dsn = await swap_pool(db, pool, primary_url)
    node = replica_engine(dsn=pair.replica.url("astrocoffee"), command_timeout=10)
    await node.start_connection_pool(min_size=0, max_size=4)
    db.extra_nodes[REPLICA] = node
    forget_cached_rules()
    forget_local_copies()
    watch = ReplicaWatch(primary=db, replica=node, max_lag_s=MAX_LAG_S, interval_s=0.1)
    try:
        async with watching(watch):
            await until(lambda: watch.state.serves_reads)
            yield watch
    finally:
        # The pair's rows stay there (its own members and stores; it goes at the module's end).
        del db.extra_nodes[REPLICA]
        try:
            await swap_pool(db, saved_pool, saved_dsn)
        finally:
            await pool.close()
            await node.close_connection_pool()
            forget_cached_rules()
            forget_local_copies()


async def swap_pool(
    db: PostgresEngine, pool: asyncpg.Pool | None, dsn: str
) -> tuple[asyncpg.Pool | None, str]:
    """Give the engine ``pool`` at a moment when no connection of its current one is out.
    A Piccolo transaction (the store figures' fold runs one every 0.2 s) gives its connection
    back to whichever pool the engine has when it ends: swapped under it, the connection would
    go to the wrong pool, and its own would wait for it forever when closed. Nothing awaits
    between the check and the swap, so nothing can take a connection in between."""
    for _ in range(2000):
        current = db.pool
        # Every holder back in the queue: none lent, none being connected for a lender.
        if current is None or current._queue.qsize() == current._maxsize:
            saved = (current, db.config["dsn"])
            db.pool, db.config["dsn"] = pool, dsn
            return saved
        await asyncio.sleep(0.005)
    raise AssertionError("the engine's pool never had all its connections back")


async def until(condition: object, timeout_s: float = 10.0) -> None:
    assert callable(condition)
    for _ in range(int(timeout_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the replica's state did not come")


async def on_replica(pair: StreamingPair, statement: str) -> None:
    connection = await asyncpg.connect(pair.replica.url("astrocoffee"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def replayed_to_here(pair: StreamingPair, timeout_s: float = 10.0) -> None:
    """Until the replica has replayed everything the primary has written so far."""
    primary = await asyncpg.connect(pair.primary.url("astrocoffee"))
    replica = await asyncpg.connect(pair.replica.url("astrocoffee"))
    try:
        written = await primary.fetchval("SELECT pg_current_wal_lsn()")
        for _ in range(int(timeout_s / 0.05)):
            behind = await replica.fetchval(
                "SELECT pg_wal_lsn_diff($1, pg_last_wal_replay_lsn()) > 0", written
            )
            if not behind:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the replica did not replay the primary's writes")
    finally:
        await primary.close()
        await replica.close()


@asynccontextmanager
async def replay_paused(pair: StreamingPair) -> AsyncIterator[None]:
    await on_replica(pair, "SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        await on_replica(pair, "SELECT pg_wal_replay_resume()")


async def another_sale(client: httpx.AsyncClient, till: Till, member: LoggedInMember) -> None:
    """10 points more for ``member``."""
    sale = await buy(client, till, purchase_body(member.card_number, amount=20000))
    assert sale.status_code == 201, sale.text


async def history(client: httpx.AsyncClient, member: LoggedInMember) -> list[int]:
    response = await client.get("/v1/me/transactions", headers=member.headers)
    assert response.status_code == 200, response.text
    return [item["points"] for item in response.json()["items"]]


Bought = tuple[LoggedInMember, Till]


@pytest.fixture
async def bought(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    pair: StreamingPair,
    replicated: ReplicaWatch,
) -> Bought:
    """A member with one sale of 17 points, and a till; the replica has them both."""
    till = await open_till()
    member = await log_in(client, live_server.sms)
    sale = await buy(client, till, purchase_body(member.card_number, amount=35000))
    assert sale.status_code == 201, sale.text  # a write on the read-only node would fail
    # Within its lag bound the replica serves history before it has replayed the member
    # just made (a 404 member_not_found): wait for the replay, then sample.
    await replayed_to_here(pair)
    await replicated.sample()
    assert await history(client, member) == [17]
    return member, till


async def test_without_a_replica_lagging_reads_use_the_primary() -> None:
    assert lagging_reads() is None


async def test_history_comes_from_the_replica_and_the_balance_from_the_primary(
    client: httpx.AsyncClient, pair: StreamingPair, replicated: ReplicaWatch, bought: Bought
) -> None:
    member, till = bought
    replicated.max_lag_s = 30.0  # this test holds the replay for a moment on purpose
    async with replay_paused(pair):
        await another_sale(client, till, member)
        await replicated.sample()
        assert lagging_reads() == REPLICA
        # The member's own read right after the sale sees it: /v1/me reads the primary.
        me = await client.get("/v1/me", headers=member.headers)
        assert me.status_code == 200
        assert me.json()["balance"]["available"] + me.json()["balance"]["pending"] == 27
        # History tolerates lag: it came from the replica, which has not replayed the sale.
        assert await history(client, member) == [17]
    await until(lambda: replicated.state.lag_s == 0.0)
    assert await history(client, member) == [10, 17]
    # The replica's sessions are the app's read-only replica pool.
    connection = await asyncpg.connect(pair.replica.url("astrocoffee"))
    try:
        names = await connection.fetch("SELECT application_name FROM pg_stat_activity")
    finally:
        await connection.close()
    assert "astrocoffee-replica-reads" in {row["application_name"] for row in names}


async def test_a_replica_behind_its_bound_leaves_the_reads_to_the_primary(
    client: httpx.AsyncClient, pair: StreamingPair, replicated: ReplicaWatch, bought: Bought
) -> None:
    member, till = bought
    async with replay_paused(pair):
        await another_sale(client, till, member)
        await until(lambda: not replicated.state.serves_reads)
        state = replicated.state
        assert state.reachable and state.lag_s is not None and state.lag_s > MAX_LAG_S
        sample_replica_lag()
        assert REPLICA_LAG._value.get() > MAX_LAG_S
        assert REPLICA_SERVING._value.get() == 0
        assert lagging_reads() is None
        assert await history(client, member) == [10, 17]  # the primary's
    await until(lambda: replicated.state.serves_reads)


async def test_a_replica_that_is_down_leaves_the_reads_to_the_primary_without_an_error(
    client: httpx.AsyncClient, pair: StreamingPair, replicated: ReplicaWatch, bought: Bought
) -> None:
    member, till = bought
    await asyncio.to_thread(pair.stop, pair.replica)
    try:
        # Whichever meets the stopped replica first, a sample or this read, the read answers.
        await another_sale(client, till, member)
        assert await history(client, member) == [10, 17]
        assert not replicated.state.reachable
        ready = await client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["replica"].startswith("unreachable")
        report = await client.get("/v1/me/transactions", headers=member.headers)
        assert report.status_code == 200
    finally:
        await asyncio.to_thread(pair.start, pair.replica)
    await until(lambda: replicated.state.serves_reads)
    assert await history(client, member) == [10, 17]


async def test_a_replica_that_is_down_at_start_neither_stops_the_start_nor_takes_reads() -> None:
    # Piccolo's engine asks its server's version when it is made, and only warns if it can't.
    with pytest.warns(Warning, match="Unable to"):
        node = replica_engine(
            dsn=f"postgresql://postgres@127.0.0.1:{free_port()}/x", command_timeout=1
        )
    await node.start_connection_pool(min_size=0, max_size=1)  # no connection up front
    watch = ReplicaWatch(primary=piccolo_conf.DB, replica=node, max_lag_s=5, interval_s=60)
    try:
        async with watching(watch):
            assert not watch.state.reachable
            assert lagging_reads() is None
            assert replica_check() == "not measured yet (reads go to the primary)"
    finally:
        await node.close_connection_pool()


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
async def test_the_lag_settings_are_positive_seconds(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(MAX_LAG_ENV, value)
    with pytest.raises(RuntimeError, match=MAX_LAG_ENV):
        await start_watching(primary=piccolo_conf.DB, replica=piccolo_conf.DB)
    assert lagging_reads() is None
