"""The periodic jobs on a large chain: work per run against the interval (issue #23).

    DATABASE_URL=... REDIS_URL=... python -m loadtests.jobs_at_scale [--purge-rows 100000]

On a database seeded with ``python -m loadtests.seed --history`` (members who joined more
than a year ago have lots past their date: a backlog), each job is run the way the
scheduler runs it (``backend.jobs.scheduler.MaintenanceJobs.run``'s calls) and timed:

- expiry: one run as the scheduler makes it (its limit and 10-s budget), accounts/s;
  against the rate at which lots reach their date on this chain (the lots expiring in the
  next 30 days, per second);
- tier evaluation: one whole pass (every member above green), members/s;
- idempotency and outbox purge: ``--purge-rows`` rows made old for the purpose, purged in
  the jobs' batches, rows/s;
- relay: one run (members with events in its window), and the query that finds them;
- a targeted campaign's start: one run of its telling (batches within its budget), and the
  whole audience (``loadtests.campaign_telling`` compares it with the one statement it
  replaced).

It writes real changes (points expire, tiers move, the rows it adds are purged): run it on
a load-test database only. Writes ``loadtests/reports/jobs-<time>.md`` and prints it.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from loadtests.bench_report import run_and_write
from loadtests.campaign_telling import _audiences, _batched, pool_and_publisher

INTERVAL_S = 30  # backend.settings.Settings.maintenance_interval_s
_DUE_ACCOUNTS = (
    "SELECT COUNT(DISTINCT account) AS n FROM point_lot WHERE status = 'available'"
    " AND remaining > 0 AND expires_at <= {now}"
)


async def _timed(work: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await work
    return result, time.perf_counter() - started


async def _old_rows(rows: int, now: datetime) -> None:
    """``rows`` idempotency records past their TTL and delivered outbox messages past the
    retention, in two statements."""
    from db import sql

    await sql.fetch(
        "INSERT INTO idempotency_record (id, scope, key, request_hash, response_status,"
        " response_body, created_at) SELECT gen_random_uuid(), 'jobs-at-scale', 'k' || n, '',"
        " 200, '{{}}'::jsonb, {at} FROM generate_series(1, {rows}) n",
        rows=rows,
        at=now - timedelta(days=3),
    )
    await sql.fetch(
        "INSERT INTO outbox_message (id, destination, kind, reference, business_date, payload,"
        " status, attempts, next_attempt_at, created_at, delivered_at)"
        " SELECT gen_random_uuid(), 'accounting', 'sale', 'jobs-at-scale', {day}, '{{}}'::jsonb,"
        " 'delivered', 1, {at}, {at}, {at} FROM generate_series(1, {rows}) n",
        rows=rows,
        day=(now - timedelta(days=500)).date(),
        at=now - timedelta(days=500),
    )


async def measure(args: argparse.Namespace) -> list[str]:
    from backend.accounting.outbox import purge_delivered
    from backend.campaigns.telling import BATCH
    from backend.idempotency import purge_records
    from backend.loyalty.expiry import BUDGET_S, expire_points
    from backend.loyalty.rules import current_rules
    from backend.loyalty.tiers import evaluate_tiers
    from backend.settings import load_settings
    from backend.streams.relay import relay_unpublished
    from db import sql

    settings = load_settings()
    now = datetime.now(UTC)
    lines = []
    async with pool_and_publisher("jobs") as publisher:
        (counts,) = await sql.fetch(
            "SELECT (SELECT COUNT(*) FROM member) AS members,"
            " (SELECT COUNT(*) FROM member WHERE tier <> 'green') AS above_green,"
            " (" + _DUE_ACCOUNTS.replace(" AS n", "") + ") AS due_accounts,"
            " (SELECT COUNT(*) FROM point_lot WHERE remaining > 0 AND expires_at > {now}"
            "  AND expires_at <= {now} + interval '30 days') AS lots_next_30_days",
            now=now,
        )
        arrival = counts["lots_next_30_days"] / (30 * 86400)
        lines += [
            f"Chain: {counts['members']:,} members, {counts['above_green']:,} above green; "
            f"{counts['due_accounts']:,} accounts with points past their date (backlog); "
            f"{counts['lots_next_30_days']:,} lots reach their date in the next 30 days "
            f"({arrival:.3f} lots/s). Load average at the start: {os.getloadavg()[0]:.1f} "
            "(2 shared CPUs).",
            "",
            f"| job | work in one run | seconds | rate | per {INTERVAL_S} s interval "
            "| needed per interval at 1M |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        # One run as the scheduler makes it: within its limit and its time budget.
        expired, seconds = await _timed(expire_points(publisher, now=now))
        (left,) = await sql.fetch(_DUE_ACCOUNTS, now=now)
        done = counts["due_accounts"] - left["n"]
        rate = done / seconds
        lines.append(
            f"| expiry | {done:,} accounts ({expired:,} points), one run (10-s budget) "
            f"| {seconds:.1f} | {rate:,.0f} accounts/s | {rate * BUDGET_S:,.0f} accounts "
            f"| {arrival * INTERVAL_S:.1f} lots ({arrival:.3f}/s) |"
        )
        rules = (await current_rules()).rules
        changed, seconds = await _timed(evaluate_tiers(publisher, rules, now=now))
        lines.append(
            f"| tier evaluation (daily) | {counts['above_green']:,} members above green "
            f"({changed:,} moved) | {seconds:.1f} | {counts['above_green'] / seconds:,.0f} "
            "members/s | once a day | one pass a day |"
        )
        await _old_rows(args.purge_rows, now)
        purged, seconds = await _timed(purge_records(before=now - timedelta(hours=48)))
        lines.append(
            f"| idempotency purge | {purged:,} records (≤ 100,000 a run) | {seconds:.1f} "
            f"| {purged / seconds:,.0f} rows/s | 100,000 rows = {100_000 * seconds / purged:.1f}"
            " s | the keys of 30 s of sales |"
        )
        oldest_kept: date = (now - timedelta(days=settings.outbox_retention_days)).date()
        sent, seconds = await _timed(purge_delivered(before=oldest_kept))
        lines.append(
            f"| outbox purge | {sent:,} messages (≤ 100,000 a run) | {seconds:.1f} "
            f"| {sent / seconds:,.0f} rows/s | 100,000 rows = {100_000 * seconds / sent:.1f} s"
            " | the documents of 30 s of sales |"
        )
        recent, seconds_query = await _timed(
            sql.fetch(
                "SELECT COUNT(DISTINCT member) AS n FROM member_event WHERE created_at > {since}",
                since=now - timedelta(seconds=120),
            )
        )
        relayed, seconds = await _timed(relay_unpublished(publisher, now=datetime.now(UTC)))
        lines.append(
            f"| relay | {recent[0]['n']:,} members with events in the window "
            f"({relayed:,} events republished) | {seconds:.2f} | query {seconds_query:.3f} s "
            "| every run | the members active in 120 s |"
        )
        for label, targeting, size in await _audiences():
            told = await _batched(publisher, targeting, BATCH)
            run_told, run_s = told["first_run"]
            lines.append(
                f"| campaign start, {label} ({size:,} members) | {run_told:,} members "
                f"told in one run (batches of {BATCH:,}, longest "
                f"{told['longest_batch']:.1f} s) | {run_s:.1f} | "
                f"{run_told / run_s:,.0f} members/s | {told['told']:,} members in "
                f"{told['total']:.0f} s | when a campaign starts or ends |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.jobs_at_scale")
    parser.add_argument("--purge-rows", type=int, default=100_000)
    return run_and_write("jobs", "Periodic jobs on a large chain", measure(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
