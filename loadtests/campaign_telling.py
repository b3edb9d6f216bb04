"""A targeted campaign's start on a large chain: the old one-statement telling against the
batched one, in the same run (issue #23).

    DATABASE_URL=... REDIS_URL=... python -m loadtests.campaign_telling [--batch 5000]

On a database seeded with ``python -m loadtests.seed --history`` (a throwaway one: the
batched telling commits its events), for each audience (gold and platinum members; members
with 10+ visits):

- before: the statement that told the whole audience at once (every member's seq bump and
  event in one statement, in the campaign's transaction), timed on a connection of its own
  without the pool's command timeout, rolled back;
- after: the audience told as the scheduler does (``backend.campaigns.telling``): a telling
  recorded, then batches until done, each timed (its transaction and its publish), with the
  longest statement of all the batches; and how many members one scheduler run tells within
  its budget, against the 30-s interval.

Writes ``loadtests/reports/campaign-telling-<time>.md`` and prints it.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from loadtests.bench_report import run_and_write

if TYPE_CHECKING:
    from realtime.publisher import EventPublisher

INTERVAL_S = 30  # backend.settings.Settings.maintenance_interval_s

# The statement of the one-statement telling this replaces (backend.streams.member and
# backend.campaigns.live before the batches): the whole audience locked, bumped and told.
_ONE_STATEMENT = (
    "WITH audience AS (SELECT a.member FROM account a JOIN member m ON m.id = a.member "
    "LEFT JOIN member_stats s ON s.member = a.member WHERE {where} "
    "ORDER BY a.member FOR UPDATE OF a), "
    "bumped AS (UPDATE account SET last_event_seq = account.last_event_seq + 1 "
    "FROM audience WHERE account.member = audience.member "
    "RETURNING account.member, account.last_event_seq) "
    "INSERT INTO member_event (id, member, seq, type, data, created_at) "
    "SELECT gen_random_uuid(), member, last_event_seq, {{type}}, {{data}}::jsonb, {{now}} "
    "FROM bumped RETURNING member, seq"
)


async def _audiences() -> list[tuple[str, Any, int]]:
    """Each audience measured: its label, its targeting, and how many members it has."""
    from backend.campaigns.targeting import Segment, Targeting
    from db import sql

    audiences = [
        (
            "gold and platinum members",
            Targeting(tiers=["gold", "platinum"]),
            "SELECT COUNT(*) AS n FROM member WHERE tier IN ('gold', 'platinum')",
        ),
        (
            "members with 10+ visits",
            Targeting(segment=Segment(min_visits=10)),
            "SELECT COUNT(*) AS n FROM member_stats WHERE visits >= 10",
        ),
    ]
    return [
        (label, targeting, (await sql.fetch(size_query))[0]["n"])
        for label, targeting, size_query in audiences
    ]


async def _one_statement(url: str, targeting: Any) -> tuple[int, float]:
    """The old telling of the whole audience: members told and seconds, rolled back."""
    import asyncpg

    from backend.campaigns.live import audience_conditions
    from db.sql import compiled

    where, params = audience_conditions(targeting, datetime.now(UTC))
    query = compiled(_ONE_STATEMENT.format(where=where))
    values = {**params, "type": "offer.available", "data": "{}", "now": datetime.now(UTC)}
    connection = await asyncpg.connect(url)
    try:
        transaction = connection.transaction()
        await transaction.start()
        try:
            started = time.perf_counter()
            rows = await connection.fetch(query.numbered, *query.arguments(values))
            return len(rows), time.perf_counter() - started
        finally:
            await transaction.rollback()
    finally:
        await connection.close()


class _StatementClock:
    """The longest single statement sent through ``db.sql.fetch`` while it is installed."""

    def __init__(self) -> None:
        from db import sql

        self._sql = sql
        self._fetch = sql.fetch
        self.longest = 0.0

    async def fetch(self, template: str, /, **params: Any) -> Sequence[Any]:
        started = time.perf_counter()
        try:
            return await self._fetch(template, **params)
        finally:
            self.longest = max(self.longest, time.perf_counter() - started)

    def __enter__(self) -> _StatementClock:
        self._sql.fetch = self.fetch  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        self._sql.fetch = self._fetch  # type: ignore[assignment]


class _PublishClock:
    """A publisher that adds up the time its publishing took."""

    def __init__(self, publisher: Any) -> None:
        self._publisher = publisher
        self.seconds = 0.0

    async def publish(self, events: list[Any]) -> bool:
        started = time.perf_counter()
        try:
            return bool(await self._publisher.publish(events))
        finally:
            self.seconds += time.perf_counter() - started


async def _campaign(targeting: Any) -> Any:
    """An active campaign for ``targeting`` and its telling, as a publish records them."""
    import msgspec

    from backend.campaigns.catalogue import to_live
    from backend.campaigns.telling import begin_telling
    from db import sql
    from db.pool import engine

    now = datetime.now(UTC)
    row = {
        "id": uuid.uuid4(),
        "name": f"Telling at scale {now:%H%M%S}",
        "description": "",
        "kind": "bonus",
        "rule": {"type": "bonus", "points": 10, "min_amount": 100},
        "targeting": msgspec.to_builtins(targeting),
        "status": "active",
        "starts_at": now,
        "ends_at": None,
        "priority": 0,
        "exclusive": False,
        "requires_activation": False,
        "per_member_limit": None,
        "per_member_period": None,
        "total_limit": None,
    }
    async with engine().transaction():
        await sql.fetch(
            "INSERT INTO campaign (id, name, description, kind, rule, targeting, status,"
            " starts_at, priority, exclusive, requires_activation, created_at, updated_at)"
            " VALUES ({id}, {name}, '', 'bonus', {rule}::jsonb, {targeting}::jsonb, 'active',"
            " {now}, 0, false, false, {now}, {now})",
            id=row["id"],
            name=row["name"],
            rule=msgspec.json.encode(row["rule"]).decode(),
            targeting=msgspec.json.encode(row["targeting"]).decode(),
            now=now,
        )
        await begin_telling(to_live(row), "offer.available", now=now)
    return row["id"]


async def _batched(publisher: Any, targeting: Any, batch: int) -> dict[str, Any]:
    """The audience told as the scheduler tells it: every batch timed, one scheduler run's
    worth (its budget) measured on the way."""
    from backend.campaigns.telling import BUDGET_S, tell_batch
    from backend.streams.relay import relay_unpublished

    await _campaign(targeting)
    publishing = _PublishClock(publisher)
    times: list[float] = []
    told = 0
    first_run: tuple[int, float] | None = None
    started = time.perf_counter()
    with _StatementClock() as clock:
        while True:
            at = time.perf_counter()
            done = await tell_batch(publishing, batch=batch)
            if done is None:
                break
            times.append(time.perf_counter() - at)
            told += done.told
            if first_run is None and (time.perf_counter() - started >= BUDGET_S or done.finished):
                # What tell_audiences does in one run: batches until its budget is spent.
                first_run = (told, time.perf_counter() - started)
            if done.finished:
                break
    total = time.perf_counter() - started
    assert first_run is not None
    # The relay's next run reads every member with events in its window: the audience just
    # told (all published, so it republishes nothing).
    at = time.perf_counter()
    relayed = await relay_unpublished(publisher, now=datetime.now(UTC))
    relay_s = time.perf_counter() - at
    return {
        "told": told,
        "batches": len(times),
        "total": total,
        "mean": sum(times) / len(times),
        "longest_batch": max(times),
        "longest_statement": clock.longest,
        "publishing": publishing.seconds,
        "first_run": first_run,
        "relay": (relayed, relay_s),
    }


@asynccontextmanager
async def pool_and_publisher(name: str) -> AsyncIterator[EventPublisher]:
    """The app's pool started, and a publisher on the settings' Redis under a prefix of its
    own (``name-<random>:``, where no server listens); both closed after."""
    from redis.asyncio import Redis

    from backend.settings import load_settings
    from db.pool import close_pool, start_pool
    from realtime.publisher import EventPublisher

    await start_pool()
    redis = Redis.from_url(load_settings().redis_url or "redis://127.0.0.1:6379/0")
    try:
        yield EventPublisher(redis=redis, prefix=f"{name}-{uuid.uuid4().hex[:6]}:")
    finally:
        await redis.aclose()
        await close_pool()


async def measure(args: argparse.Namespace) -> list[str]:
    from backend.campaigns.telling import BUDGET_S
    from db import sql

    url = os.environ["DATABASE_URL"]
    async with pool_and_publisher("telling") as publisher:
        (members,) = await sql.fetch("SELECT COUNT(*) AS n FROM member")
        lines = [
            f"Chain: {members['n']:,} members; batches of {args.batch:,} members; load average "
            f"at the start {os.getloadavg()[0]:.1f} (2 shared CPUs). Before: one statement, "
            "rolled back, its events not published (the old code then published them all in "
            "one pipeline); after: the batches, committed and published (no sockets connected).",
            "",
            "| audience | before: one statement | after: batches | per batch (mean / longest) "
            f"| longest statement | one run ({BUDGET_S:.0f}-s budget) | runs of {INTERVAL_S} s "
            "to tell all | the relay's next run |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for label, targeting, size in await _audiences():
            before_told, before_s = await _one_statement(url, targeting)
            after = await _batched(publisher, targeting, args.batch)
            run_told, run_s = after["first_run"]
            runs = -(-after["told"] // max(run_told, 1))
            lines.append(
                f"| {label} ({size:,}) | {before_told:,} members in {before_s:.1f} s "
                f"| {after['told']:,} members in {after['batches']} batches, "
                f"{after['total']:.1f} s (publishing {after['publishing']:.1f} s) | {after['mean']:.2f} / {after['longest_batch']:.2f} s "
                f"| {after['longest_statement']:.2f} s | {run_told:,} members in {run_s:.1f} s "
                f"| {runs} | {after['relay'][1]:.1f} s ({after['relay'][0]:,} republished) |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.campaign_telling")
    parser.add_argument("--batch", type=int, default=5000)
    return run_and_write(
        "campaign-telling",
        "A targeted campaign's start, one statement against batches",
        measure(parser.parse_args(argv)),
    )


if __name__ == "__main__":
    raise SystemExit(main())
