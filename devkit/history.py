"""A chain with a past, in bulk: members, their accounts and a year of history written by
set-based SQL (``INSERT ... SELECT generate_series``), for the 1M-member runs
(``python -m loadtests.seed --history``) and the plan tests.

What it writes is what the services write, summed the way ``astrocoffee ledger verify``
checks it: every member joined at some point of the last ``span`` days with a starting
balance (an ``adjustment`` entry and its lot), then visits spread over the time since, each
a purchase with its ``earn`` entry and lot (expiring a year later, as the rules say) and, on
every fourth visit, a redemption of ``REDEEMED`` points spent from the starting lot (the
oldest); one ``transaction.created`` member event per entry, the member's stats, the store
days and their visitors. Members who joined more than a year ago have lots past their date
that expiry has not reached yet: the backlog a scheduler finds after a pause. One member in
twenty spends six times as much and has the tier that spend reaches.

Ids are UUIDv7 of each row's own time, as ``db.ids.new_id`` would have made them then, so
history reads in id order as it does in production. Large tables are loaded without their
indexes and constraints, which are rebuilt (by sort, not row by row) and validated in the
same transaction, then ANALYZEd by the caller (``analyze``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

# A member's own rows and their history: they grow with the members (``hot_statements``
# names them among the tables never to read whole).
MEMBER_HISTORY = (
    "member",
    "account",
    "member_stats",
    "purchase",
    "ledger_entry",
    "point_lot",
    "member_event",
)
# The tables loaded here, largest last; their indexes and constraints are rebuilt after.
LOADED = (*MEMBER_HISTORY, "store_day", "store_day_member")
REDEEMED = 100  # points spent on every fourth visit
EXPIRE_AFTER_DAYS = 365  # the default rules' points_expire_after_days
GOLD = 1_500_000  # the default rules' gold threshold (qualifying spend, minor units)
PLATINUM = 5_000_000

_FUNCTIONS = (
    # UUIDv7 of a given time: the 48-bit millisecond timestamp over a random v4, version 7.
    """
CREATE OR REPLACE FUNCTION pg_temp.uuid7_at(at timestamptz) RETURNS uuid LANGUAGE sql VOLATILE
AS $$ SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
   substring(int8send(floor(extract(epoch FROM at) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
   52, 1), 53, 1), 'hex')::uuid $$
""",
    # backend.members.card_numbers.luhn_check_digit: from the right, the first one doubled.
    """
CREATE OR REPLACE FUNCTION pg_temp.luhn(body text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT ((10 - SUM(CASE WHEN (length(body) - i) % 2 = 0
                    THEN 2 * d - CASE WHEN d > 4 THEN 9 ELSE 0 END ELSE d END) % 10) % 10)::text
      FROM (SELECT i, substr(body, i, 1)::int AS d FROM generate_series(1, length(body)) i) x $$
""",
)

_MEMBERS = """
CREATE TEMP TABLE seed_member ON COMMIT DROP AS
SELECT i, joined, pg_temp.uuid7_at(joined) AS id, pg_temp.uuid7_at(joined) AS account,
       1 + (hashint4(i) & 2147483647) % (2 * $2::int - 1) AS visits,
       CASE WHEN i % 20 = 0 THEN 6 ELSE 1 END AS spender,
       '+7' || lpad($3::int::text, 3, '0') || lpad(i::text, 7, '0') AS phone,
       '77' || lpad($3::int::text, 3, '0') || lpad(i::text, 10, '0') AS card_body
FROM (SELECT i, $4::timestamptz - make_interval(days => $5::int)
                + (i::float8 / $1::int) * make_interval(days => $5::int - 30) AS joined
      FROM generate_series(0, $1::int - 1) i) s
"""

_VISITS = """
CREATE TEMP TABLE seed_visit ON COMMIT DROP AS
SELECT v.*, pg_temp.uuid7_at(v.at) AS id,
       (v.amount - v.redeemed * 100) AS paid,
       (v.amount - v.redeemed * 100) * 5 / 10000 AS earned
FROM (SELECT m.i, m.id AS member, m.account, j,
             m.joined + (j - 0.5)::float8 / m.visits
                        * ($1::timestamptz - interval '1 day' - m.joined) AS at,
             (m.i + CASE WHEN j % 5 = 0 THEN j ELSE 0 END) % $2::int + 1 AS store_n,
             m.spender * (20000 + (hashint4(m.i * 31 + j) & 2147483647) % 30000) AS amount,
             CASE WHEN j % 4 = 0 THEN $3::int ELSE 0 END AS redeemed
      FROM seed_member m, generate_series(1, m.visits) j) v
"""

_LOAD = (
    """
INSERT INTO member (id, phone, card_number, tier, created_at, time_zone)
SELECT m.id, m.phone, m.card_body || pg_temp.luhn(m.card_body),
       CASE WHEN s.spend >= $2::bigint THEN 'platinum'
            WHEN s.spend >= $1::bigint THEN 'gold' ELSE 'green' END,
       m.joined, 'Europe/Moscow'
FROM seed_member m JOIN (SELECT i, SUM(paid) FILTER (WHERE at > $3::timestamptz
                                                     - interval '365 days') AS spend
                         FROM seed_visit GROUP BY i) s USING (i)
""",
    """
INSERT INTO account (id, member, available, pending, held, lifetime_earned, last_event_seq,
                     updated_at)
SELECT m.account, m.id, $1::bigint + t.earned - t.redeemed, 0, 0, t.earned,
       1 + m.visits + t.redemptions, t.last_at
FROM seed_member m JOIN (SELECT i, SUM(earned) AS earned, SUM(redeemed) AS redeemed,
                                COUNT(*) FILTER (WHERE redeemed > 0) AS redemptions,
                                MAX(at) AS last_at
                         FROM seed_visit GROUP BY i) t USING (i)
""",
    """
INSERT INTO member_stats (member, visits, last_visit_at, category_counts, stamps)
SELECT m.id, m.visits, MAX(v.at), jsonb_build_object('coffee', m.visits), '{}'::jsonb
FROM seed_member m JOIN seed_visit v USING (i) GROUP BY m.id, m.visits
""",
    """
INSERT INTO purchase (id, store, terminal, member, external_id, amount, paid_amount, currency,
                      points_earned, points_redeemed, request_hash, result, checkout,
                      rules_version, refunded_amount, points_reversed, points_returned,
                      created_at)
SELECT id, ($1::uuid[])[store_n], NULL, member, 'history-' || id::text, amount, paid, 'RUB', earned,
       redeemed, md5(id::text),
       jsonb_build_object('purchase_id', id, 'points_earned', earned,
                          'points_redeemed', redeemed, 'paid_amount', paid),
       NULL, 0, 0, 0, 0, at
FROM seed_visit
""",
    # Entries: the starting balance, then per visit its redemption (if any) and its earning.
    """
CREATE TEMP TABLE seed_entry ON COMMIT DROP AS
SELECT e.*, pg_temp.uuid7_at(e.at) AS id,
       ROW_NUMBER() OVER (PARTITION BY e.member ORDER BY e.at, e.step) AS seq
FROM (SELECT id AS member, account, joined AS at, 0 AS step, 'adjustment' AS kind,
             $1::bigint AS points, 'seed' AS cause_type, NULL::uuid AS cause_id
      FROM seed_member
      UNION ALL
      SELECT member, account, at, 1, 'redeem', -redeemed, 'purchase', id
      FROM seed_visit WHERE redeemed > 0
      UNION ALL
      SELECT member, account, at, 2, 'earn', earned, 'purchase', id FROM seed_visit) e
""",
    """
INSERT INTO ledger_entry (id, account, kind, available_delta, pending_delta, held_delta,
                          cause_type, cause_id, note, created_at)
SELECT id, account, kind, points, 0, 0, cause_type, cause_id,
       CASE WHEN kind = 'adjustment' THEN 'load test starting balance' ELSE '' END, at
FROM seed_entry
""",
    """
INSERT INTO member_event (id, member, seq, type, data, created_at)
SELECT pg_temp.uuid7_at(at), member, seq, 'transaction.created',
       jsonb_build_object('entry_id', id, 'kind', kind, 'points', points,
                          'available_delta', points, 'pending_delta', 0, 'held_delta', 0,
                          'cause_type', cause_type, 'cause_id', cause_id),
       at
FROM seed_entry
""",
    # Lots: the starting one (what the redemptions spent gone from it), one per earning.
    """
INSERT INTO point_lot (id, account, source, purchase, points, remaining, status,
                       available_at, expires_at, created_at)
SELECT pg_temp.uuid7_at(m.joined), m.account, 'adjustment', NULL::uuid, $1::bigint,
       $1::bigint - t.redeemed,
       'available', m.joined, m.joined + make_interval(days => $2::int), m.joined
FROM seed_member m JOIN (SELECT i, SUM(redeemed) AS redeemed FROM seed_visit GROUP BY i) t
     USING (i)
UNION ALL
SELECT pg_temp.uuid7_at(at), account, 'earn', id, earned, earned, 'available', at,
       at + make_interval(days => $2::int), at
FROM seed_visit WHERE earned > 0
""",
    """
INSERT INTO store_day_member (id, store, day, member)
SELECT gen_random_uuid(), ($1::uuid[])[store_n], (at AT TIME ZONE 'Europe/Moscow')::date, member
FROM seed_visit GROUP BY 2, 3, 4
""",
    """
INSERT INTO store_day (id, store, day, sales, sales_amount, points_earned, points_redeemed,
                       points_reversed, refunded_amount, active_members, new_members)
SELECT gen_random_uuid(), ($1::uuid[])[store_n], (at AT TIME ZONE 'Europe/Moscow')::date, COUNT(*),
       SUM(paid), SUM(earned), SUM(redeemed), 0, 0, COUNT(DISTINCT member),
       COUNT(*) FILTER (WHERE j = 1)
FROM seed_visit GROUP BY 2, 3
""",
)

# Purchases carry the transaction that wrote them where store figures are folded after
# commit (backend.stores.folding).
_FOLDED_COLUMN = """
SELECT EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_name = 'purchase' AND column_name = 'feed_xid')
"""

# Constraints (primary and unique keys, checks, foreign keys out of and into a table) and
# plain indexes of the loaded tables, as the catalogue states them.
_CONSTRAINTS = """
SELECT DISTINCT c.conname, c.conrelid::regclass::text AS owner, c.contype::text AS contype,
       pg_get_constraintdef(c.oid) AS definition
FROM pg_constraint c
WHERE (c.conrelid = ANY($1::regclass[]) OR c.confrelid = ANY($1::regclass[]))
  AND c.contype IN ('p', 'u', 'f')
"""
_INDEXES = """
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
WHERE i.indrelid = ANY($1::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""


@asynccontextmanager
async def without_indexes(connection: Any, tables: tuple[str, ...]) -> AsyncIterator[None]:
    """Drop the tables' indexes, keys and the foreign keys into and out of them for a bulk
    load; rebuild and validate all of them after it (in the caller's transaction)."""
    constraints = await connection.fetch(_CONSTRAINTS, list(tables))
    indexes = await connection.fetch(_INDEXES, list(tables))
    for row in sorted(constraints, key=lambda r: r["contype"] != "f"):  # foreign keys first
        await connection.execute(f'ALTER TABLE {row["owner"]} DROP CONSTRAINT "{row["conname"]}"')
    for row in indexes:
        await connection.execute(f"DROP INDEX {row['name']}")
    yield
    for row in sorted(constraints, key=lambda r: r["contype"] == "f"):  # foreign keys last
        await connection.execute(
            f'ALTER TABLE {row["owner"]} ADD CONSTRAINT "{row["conname"]}" {row["definition"]}'
        )
    for row in indexes:
        await connection.execute(row["definition"])


@asynccontextmanager
async def _as_is() -> AsyncIterator[None]:
    yield


async def insert_chain(
    connection: Any,
    count: int,
    *,
    run: int,
    store_ids: list[Any],
    starting_points: int,
    visits: int,
    now: datetime,
    span_days: int = 400,
) -> dict[str, int]:
    """``count`` members (phones ``+7<run><0000000>``..., as ``devkit.seed``) with
    ``visits`` visits each on average over the ``span_days`` before ``now``, in the caller's
    transaction; return the rows written per table."""
    if starting_points < REDEEMED * (2 * visits - 1) // 4:
        raise ValueError("the starting balance must cover every redemption")
    await connection.execute("SET LOCAL statement_timeout = 0")
    await connection.execute("SET LOCAL maintenance_work_mem = '1GB'")
    await connection.execute("SET LOCAL work_mem = '256MB'")
    for function in _FUNCTIONS:
        await connection.execute(function)
    await connection.execute(_MEMBERS, count, visits, run, now, span_days)
    await connection.execute(_VISITS, now, len(store_ids), REDEEMED)
    written: dict[str, int] = {}
    # Rebuilding the indexes pays off from about this size; a small chain (the plan tests')
    # keeps them and its DDL-free transaction.
    rebuild = without_indexes(connection, LOADED) if count >= 100_000 else _as_is()
    async with rebuild:
        member, account, stats, purchase, entries, ledger, events, lots, visitors, days = _LOAD
        await _load(connection, written, "member", member, GOLD, PLATINUM, now)
        await _load(connection, written, "account", account, starting_points)
        await _load(connection, written, "member_stats", stats)
        await _load(connection, written, "purchase", purchase, store_ids)
        if await connection.fetchval(_FOLDED_COLUMN):
            # Figures already counted (store_day below): nothing for the folding job to add.
            await connection.execute("UPDATE purchase SET feed_xid = 0 WHERE feed_xid <> 0")
        await connection.execute(entries, starting_points)
        await _load(connection, written, "ledger_entry", ledger)
        await _load(connection, written, "member_event", events)
        await _load(connection, written, "point_lot", lots, starting_points, EXPIRE_AFTER_DAYS)
        await _load(connection, written, "store_day_member", visitors, store_ids)
        await _load(connection, written, "store_day", days, store_ids)
    return written


async def _load(
    connection: Any, written: dict[str, int], table: str, statement: str, *args: Any
) -> None:
    status = await connection.execute(statement, *args)
    written[table] = int(status.rsplit(" ", 1)[-1])


async def chain_members(connection: Any, *, run: int, count: int) -> list[Any]:
    """The first ``count`` members of seed ``run`` (by phone), spread over the chain's
    history: every ``step``-th one, so old and new members are both among them."""
    from devkit.seed import SeededMember

    total = await connection.fetchval(
        "SELECT COUNT(*) FROM member WHERE phone LIKE $1", f"+7{run:03d}%"
    )
    step = max(1, total // count)
    rows = await connection.fetch(
        "SELECT m.id, a.id AS account, m.phone, m.card_number FROM member m"
        " JOIN account a ON a.member = m.id"
        " WHERE m.phone = ANY($1::text[]) ORDER BY m.phone",
        [f"+7{run:03d}{i:07d}" for i in range(0, step * count, step)],
    )
    return [
        SeededMember(str(r["id"]), str(r["account"]), r["phone"], r["card_number"]) for r in rows
    ]


async def analyze(database_url: str) -> None:
    """Fresh planner statistics for the loaded tables (outside the load's transaction)."""
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        for table in LOADED:
            await connection.execute(f"ANALYZE {table}")
    finally:
        await connection.close()
