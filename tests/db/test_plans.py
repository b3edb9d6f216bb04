"""The plans of the hot statements (``devkit.hot_statements``) stay flat as the chain grows:
each uses the index it was written for, and none reads a table that grows with the members
from end to end.

Checked by the plan, never by time: on a small chain with a year of history
(``devkit.history``, ANALYZEd) and sequential scans priced out of reach
(``enable_seqscan = off``), so that a plan with a Seq Scan on such a table means no index
serves the statement at all, whatever the table's size. The same catalogue is explained
(ANALYZE, BUFFERS) on the 1M-member database by ``loadtests/explain_hot.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from devkit.history import LOADED, insert_chain
from devkit.hot_statements import GROWING, Sample, statements
from devkit.plan_database import sample
from devkit.plans import explain, explain_generic, problems, scans
from devkit.seed import insert_stores
from tests import servers as test_servers

MEMBERS = 1500


@pytest.fixture
async def chain(servers: test_servers.RunServers) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the tests' database holding a small chain with a year of history."""
    connection = await asyncpg.connect(servers.database_url)
    try:
        async with connection.transaction():
            stores = await insert_stores(
                connection, 4, run=101, name="Plan", tills_per_store=1, code_prefix="P"
            )
            await insert_chain(
                connection,
                MEMBERS,
                run=101,
                store_ids=[uuid.UUID(store.store_id) for store in stores],
                starting_points=2000,
                visits=10,
                now=datetime.now(UTC),
            )
        for table in LOADED:
            await connection.execute(f"ANALYZE {table}")
        await connection.execute("SET enable_seqscan = off")
        yield connection
    finally:
        await connection.close()


async def test_every_hot_statement_uses_its_index(chain: asyncpg.Connection) -> None:
    at: Sample = await sample(chain, now=datetime.now(UTC))
    found = []
    for statement in statements():
        plan = await explain(chain, statement, at)
        found += problems(statement, plan["Plan"])
    assert found == []


async def test_the_store_figures_fold_keeps_its_index_in_the_generic_plan(
    chain: asyncpg.Connection,
) -> None:
    """The fold runs five times a second as a prepared statement, so PostgreSQL soon plans it
    once for any values. Its plan then, at the planner's own costs (sequential scans
    allowed), still reads the new sales by ``purchase_feed_xid``: written with an OR, that
    plan guessed a third of the table and read every purchase, each pass longer than the last
    as the sales grew (issue #24)."""
    await chain.execute("RESET enable_seqscan")
    fold = next(s for s in statements() if s.name.startswith("store figures"))
    plan = await explain_generic(chain, fold, await sample(chain, now=datetime.now(UTC)))
    assert problems(fold, plan["Plan"]) == []


async def test_a_members_spend_is_read_from_one_index_in_every_plan(
    chain: asyncpg.Connection,
) -> None:
    """The year's qualifying spend that every sale and ``/v1/me`` read comes from
    ``purchase_member_recent`` alone, in the plan for the values and in the generic one
    (sequential scans allowed): never ANDed with ``purchase_created_at``, which reads every
    member's purchases of the year (issue #24)."""
    await chain.execute("RESET enable_seqscan")
    at = await sample(chain, now=datetime.now(UTC))
    spending = [
        s for s in statements() if "spend" in s.name or s.name.startswith("sale: what it checks")
    ]
    assert len(spending) == 3
    for statement in spending:
        for plan in (
            await explain(chain, statement, at),
            await explain_generic(chain, statement, at),
        ):
            purchases = {scan.index for scan in scans(plan["Plan"]) if scan.relation == "purchase"}
            assert "purchase_member_recent" in purchases, statement.name
            assert "purchase_created_at" not in purchases, statement.name


async def test_a_plan_without_the_index_is_caught(chain: asyncpg.Connection) -> None:
    """The check itself: with the index the tier evaluation is written for gone (inside a
    transaction rolled back), its plan is refused."""
    evaluation = next(s for s in statements() if s.name.startswith("tier evaluation"))
    at = await sample(chain, now=datetime.now(UTC))
    transaction = chain.transaction()
    await transaction.start()
    try:
        await chain.execute("DROP INDEX member_above_green")
        plan = await explain(chain, evaluation, at)
    finally:
        await transaction.rollback()
    assert [scan.index for scan in scans(plan["Plan"])].count("member_above_green") == 0
    assert problems(evaluation, plan["Plan"]) != []


async def test_the_idempotency_purge_goes_in_bounded_batches(
    servers: test_servers.RunServers,
) -> None:
    from backend.idempotency import purge_records

    now = datetime.now(UTC)
    connection = await asyncpg.connect(servers.database_url)
    try:
        await connection.executemany(
            "INSERT INTO idempotency_record (id, scope, key, request_hash, response_status,"
            " response_body, created_at) VALUES ($1, 'plan', $2, '', 200, '{}', $3)",
            [(uuid.uuid4(), f"key-{n}", now - timedelta(hours=n)) for n in range(1, 6)],
        )
    finally:
        await connection.close()
    # Keys older than 2.5 hours: three of the five, in batches of two.
    assert await purge_records(before=now - timedelta(hours=2.5), batch=2) == 3
    assert await purge_records(before=now - timedelta(hours=2.5), batch=2) == 0


@pytest.mark.corrupts_ledger
async def test_ledger_verify_goes_a_range_of_accounts_at_a_time(
    chain: asyncpg.Connection,
) -> None:
    """Bounded statements (a 1M-member chain verifies within the pool's command timeout),
    and a wrong balance is found whichever range it falls in."""
    from backend.loyalty.verify import find_mismatches

    assert await find_mismatches(batch=100) == []
    wrong = await chain.fetchval(
        "UPDATE account SET available = available + 1 WHERE id ="
        " (SELECT id FROM account ORDER BY id OFFSET 777 LIMIT 1) RETURNING id"
    )
    found = await find_mismatches(batch=100)
    assert {m.account_id for m in found} == {str(wrong)}
    assert len(found) == 2  # the ledger's sum and the lots both disagree


async def test_the_purges_never_scan_their_table(chain: asyncpg.Connection) -> None:
    """At the planner's own costs (sequential scans allowed), on tables big enough that a
    batch joined with ``IN (SELECT ...)`` went through a sequential scan of all of them."""
    from devkit.plan_database import fill_queues

    now = datetime.now(UTC)
    # 4.6 days of keys and 830 days of documents: about half of each past its time.
    await fill_queues(
        chain, now, keys=40_000, documents=40_000, key_every_s=10, document_every_min=30
    )
    await chain.execute("RESET enable_seqscan")
    at = await sample(chain, now=now)
    purges = [s for s in statements() if "purge" in s.name]
    assert len(purges) == 2
    found = []
    for statement in purges:
        found += problems(statement, (await explain(chain, statement, at))["Plan"])
    assert found == []


async def test_a_campaign_telling_batch_reads_its_window_of_members_only(
    chain: asyncpg.Connection,
) -> None:
    """A batch of a targeted campaign's telling (``backend.campaigns.telling``) reads the
    window of members from the account index, and each of them by key: every scan of a
    table that grows with the chain has an index condition (never every member, whatever
    the audience's share of the chain or the planner's estimates of the joins)."""
    telling = [s for s in statements() if s.name.startswith("campaign telling")]
    assert len(telling) == 4
    at = await sample(chain, now=datetime.now(UTC))
    for statement in telling:
        plan = (await explain(chain, statement, at))["Plan"]
        assert problems(statement, plan) == []
        growing = [scan for scan in scans(plan) if scan.relation in GROWING]
        assert {scan.relation for scan in growing} >= {"account"}, statement.name
        for scan in growing:
            assert scan.node.startswith("Index") and scan.conditioned, (statement.name, scan)
