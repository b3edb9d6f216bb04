"""Sales on a chain of 1M members against the same on a small chain, in the same run (issue
#23: throughput and p99 within 10 %).

    python -m loadtests.seed --history --members 5000 --out small.json     # DATABASE_URL=small
    python -m loadtests.seed --history --members 1000000 --out large.json  # DATABASE_URL=large
    python -m loadtests.bench_chain_size SMALL_URL small.json LARGE_URL large.json [--rounds 2]

Both databases are seeded alike (``devkit.history``: a year of purchases, ledger, lots and
events per member), so the only difference is the number of members. For each database in
turn, round after round (small, large, small, large, ...: drift of the machine shows as a
difference between rounds of one database), one ``astrocoffee serve`` on it: one-shot
purchases by the seeded tills with the seeded members' cards (spread over the whole chain)
at saturation, then p50/p99 open loop at half the small chain's first saturation rate (the
same rate for both). The databases are kept; the purchases stay in them (``ledger verify``
holds after). Writes ``loadtests/reports/bench-<time>.md``/``.json``. Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
from dataclasses import dataclass
from pathlib import Path

from devkit.processes import AppProcess, astrocoffee
from loadtests.bench_purchases import purchase
from loadtests.bench_report import BenchReport, Figure
from loadtests.benchlib import percentile, run_bench
from loadtests.http_load import paced, saturate

CLIENTS = int(os.environ.get("BENCH_PURCHASES_CLIENTS", "16"))
DURATION_S = int(os.environ.get("BENCH_PURCHASES_DURATION_S", "20"))


@dataclass(frozen=True)
class Chain:
    label: str
    database_url: str
    keys: list[str]  # every seeded till's API key
    cards: list[str]  # the seeded members' cards (those with a session: spread over all)
    members: int


@dataclass(frozen=True)
class Measured:
    rate: float
    failures: int
    p50: float
    p99: float
    paced_failures: int
    read_per_sale: float  # blocks PostgreSQL read from outside shared_buffers, per sale
    hit_per_sale: float  # blocks found in shared_buffers, per sale


_BLOCKS = "SELECT blks_read, blks_hit FROM pg_stat_database WHERE datname = current_database()"


async def blocks(database_url: str) -> tuple[int, int]:
    """The database's blocks read and hit so far (the statistics lag by up to a second)."""
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        row = await connection.fetchrow(_BLOCKS)
        return int(row["blks_read"]), int(row["blks_hit"])
    finally:
        await connection.close()


def chain(label: str, url: str, credentials: Path) -> Chain:
    data = json.loads(credentials.read_text(encoding="utf-8"))
    return Chain(
        label=label,
        database_url=url,
        keys=[till["key"] for store in data["stores"] for till in store["terminals"]],
        cards=[member["card_number"] for member in data["members"]],
        members=int(data.get("members_in_database", len(data["members"]))),
    )


async def measure(on: Chain, *, paced_rate: float | None) -> Measured:
    """One serve on ``on``'s database: saturation, then open loop at ``paced_rate`` (half the
    saturation rate just measured when None)."""
    env = {
        **os.environ,
        "DATABASE_URL": on.database_url,
        "ASTROCOFFEE_SECRET_KEY": secrets.token_urlsafe(40),
        "ASTROCOFFEE_REDIS_PREFIX": f"bench-chain-{secrets.token_hex(3)}:",
        "ASTROCOFFEE_LOG_LEVEL": "WARNING",
        "ASTROCOFFEE_MAINTENANCE_INTERVAL_S": "0",
        "ASTROCOFFEE_POS_RATE_LIMIT_PER_MINUTE": "100000000",
        "DATABASE_POOL_MAX": str(max(10, CLIENTS)),
    }
    migrate = await asyncio.to_thread(astrocoffee, "migrate", env=env)
    assert migrate.returncode == 0, migrate.stderr
    async with AppProcess.serve(env) as app:
        await app.ready()

        def sale(n: int) -> bytes:
            return purchase(app.port, on.keys[n % len(on.keys)], on.cards[n % len(on.cards)])

        read_before, hit_before = await blocks(on.database_url)
        sales = await saturate(app.port, sale, clients=CLIENTS, seconds=DURATION_S)
        await asyncio.sleep(1)  # the statistics collector's delay
        read_after, hit_after = await blocks(on.database_url)
        rate = paced_rate or sales.rate / 2
        latencies, paced_failures = await paced(
            app.port, sale, rate=rate, seconds=DURATION_S, connections=CLIENTS * 2
        )
    return Measured(
        sales.rate,
        sales.failures,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        paced_failures,
        (read_after - read_before) / max(1, sales.done),
        (hit_after - hit_before) / max(1, sales.done),
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_chain_size")
    parser.add_argument("small_url")
    parser.add_argument("small_credentials", type=Path)
    parser.add_argument("large_url")
    parser.add_argument("large_credentials", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    return parser.parse_args(argv)


async def run(report: BenchReport, args: argparse.Namespace) -> None:
    small = chain("small", args.small_url, args.small_credentials)
    large = chain("large", args.large_url, args.large_credentials)
    results: dict[str, list[Measured]] = {"small": [], "large": []}
    paced_rate: float | None = None
    loads = []
    for _ in range(args.rounds):
        for one in (small, large):
            loads.append(os.getloadavg()[0])
            result = await measure(one, paced_rate=paced_rate)
            paced_rate = paced_rate or result.rate / 2
            results[one.label].append(result)
    rows = [
        "# Sales on a 1M-member chain against a small one (same run)",
        "",
        f"{CLIENTS} clients, {DURATION_S} s per phase, {args.rounds} rounds (small, large, "
        f"...), open loop at {paced_rate:,.0f}/s for both; 1-minute load average before each "
        f"measurement: {', '.join(f'{load:.1f}' for load in loads)} (2 shared CPUs).",
        "",
        "| chain | round | sales/s | failed | p50 ms | p99 ms | blocks read / hit per sale |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for one in (small, large):
        for n, m in enumerate(results[one.label], 1):
            rows.append(
                f"| {one.members:,} members | {n} | {m.rate:,.0f} | {m.failures + m.paced_failures}"
                f" | {m.p50:.1f} | {m.p99:.1f} | {m.read_per_sale:.1f} / {m.hit_per_sale:.0f} |"
            )
    report += rows

    def median(label: str, field: str) -> float:
        return float(statistics.median(getattr(m, field) for m in results[label]))

    def large_against_small(what: str, field: str, unit: str, **target: float) -> Figure:
        """The large chain's median of rounds of ``field`` against the small one's."""
        return Figure(
            name=f"{what}, {large.members:,} members (median of rounds)",
            value=median("large", field),
            unit=unit,
            baseline=median("small", field),
            baseline_name=f"{small.members:,} members",
            **target,
        )

    report.figure(large_against_small("sales/s", "rate", "/s", at_least=0.9))
    report.figure(large_against_small(f"sale p99 at {paced_rate:,.0f}/s", "p99", "ms", at_most=1.1))


def main(argv: list[str] | None = None) -> int:
    import uvloop

    args = parse_args(argv)
    uvloop.install()

    async def part(report: BenchReport) -> None:
        await run(report, args)

    return run_bench("chain size", part)


if __name__ == "__main__":
    raise SystemExit(main())
