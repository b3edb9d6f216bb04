"""The purchase path with 50 campaigns in effect against the same path with none
(``make bench``; the campaigns issue's target: within 10 %).

One `astrocoffee serve` process; purchases over HTTP at a fixed concurrency, in alternating
rounds (none / 50 / none / 50 ...) so that machine noise hits both sides alike. The 50
campaigns are a realistic mix that the engine must evaluate for every sale (other stores,
other days and hours, tiers, segments, SKUs and categories not in the check, stamp cards
on another category) and none of them award on the bench's checks, so the figure is the
cost of having them, not of extra ledger entries; a last pair of rounds adds one campaign
that does award, for the cost of applying one. Writes
``loadtests/reports/bench-campaigns-<date>.md``. Only ever targets 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from devkit.seed import SeededMember
from loadtests.bench_report import BenchReport, Figure
from loadtests.benchlib import bench_server, percentile, run_bench, sell, servers

ROUNDS = int(os.environ.get("BENCH_CAMPAIGNS_ROUNDS", "4"))
PER_ROUND = int(os.environ.get("BENCH_CAMPAIGNS_PURCHASES", "300"))
CONCURRENCY = int(os.environ.get("BENCH_CAMPAIGNS_CONCURRENCY", "8"))
MEMBERS = 200

ITEMS = [
    {"sku": "latte", "name": "Latte", "category": "coffee", "quantity": 1, "unit_price": 20000},
    {"sku": "bun", "name": "Bun", "category": "bakery", "quantity": 1, "unit_price": 15000},
]


def mix(other_store: str) -> list[dict[str, Any]]:
    """50 campaigns that are evaluated on every sale and award nothing on the bench's."""
    campaigns: list[dict[str, Any]] = []
    for i in range(12):
        campaigns.append({"rule": {"type": "bonus", "points": 10 + i, "sku": f"sku-{i}"}})
    for _ in range(8):
        campaigns.append(
            {"rule": {"type": "multiplier", "factor": 2}, "targeting": {"store_ids": [other_store]}}
        )
    for i in range(8):
        campaigns.append(
            {"rule": {"type": "bonus", "points": 5, "category": f"tea-{i}"}, "priority": i}
        )
    for _ in range(6):
        campaigns.append(
            {"rule": {"type": "multiplier", "factor": 1.5}, "targeting": {"tiers": ["gold"]}}
        )
    for i in range(6):
        campaigns.append(
            {
                "rule": {"type": "bonus", "points": 7, "min_amount": 100},
                "targeting": {"segment": {"min_visits": 10_000 + i}},
            }
        )
    for i in range(5):
        campaigns.append(
            {
                "rule": {
                    "type": "stamp_card",
                    "category": f"juice-{i}",
                    "stamps_needed": 5,
                    "reward_max_value": 30000,
                }
            }
        )
    for _ in range(5):
        campaigns.append({"rule": {"type": "win_back", "inactive_days": 365, "points": 50}})
    assert len(campaigns) == 50
    return campaigns


async def set_campaigns(campaigns: list[dict[str, Any]], redis: Any, prefix: str) -> None:
    from db.tables import Campaign

    await Campaign.update({Campaign.status: "ended"}).where(Campaign.status == "active")
    now = datetime.now(UTC)
    for i, spec in enumerate(campaigns):
        await Campaign(
            name=f"bench {i}",
            kind=spec["rule"]["type"],
            rule=json.dumps(spec["rule"]),
            targeting=json.dumps(spec.get("targeting", {})),
            status="active",
            starts_at=now - timedelta(minutes=1),
            priority=spec.get("priority", 0),
            per_member_limit=None,
            created_at=now,
            updated_at=now,
        ).save()
    await redis.delete(f"{prefix}campaigns:live")  # what the admin API does on a change
    await asyncio.sleep(1.2)  # the process-local copy lasts a second


async def purchase_round(
    api: Any, key: str, members: list[SeededMember]
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(PER_ROUND):
        queue.put_nowait(i)

    async def till() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            member = members[i % len(members)]
            receipt = uuid.uuid4().hex
            started = time.perf_counter()
            response = await sell(api, key, member.card_number, receipt, items=ITEMS)
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 201, response.text

    started = time.perf_counter()
    await asyncio.gather(*(till() for _ in range(CONCURRENCY)))
    return PER_ROUND / (time.perf_counter() - started), latencies


async def run(report: BenchReport) -> None:
    import httpx
    from redis.asyncio import Redis

    from db.pool import close_pool, start_pool
    from db.tables import Store

    settings, _handles = servers()
    redis = Redis.from_url(settings.redis_url)
    results: dict[str, list[tuple[float, list[float]]]] = {"none": [], "50": [], "50+1": []}
    async with bench_server(settings) as bench:
        prefix = bench.prefix
        try:
            seeded = await bench.seed(MEMBERS)
            key, members = seeded.till_keys[0], seeded.members
            await start_pool()
            other = Store(
                code="OTHER", name="Another store", currency="RUB", time_zone="Europe/Moscow"
            )
            await other.save()
            campaigns = mix(str(other.id))
            applying = {"rule": {"type": "bonus", "points": 5, "category": "bakery"}}
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{bench.app.port}", timeout=30
            ) as api:
                await set_campaigns([], redis, prefix)
                await purchase_round(api, key, members)  # warm-up: caches, pools, JIT-free paths
                for _ in range(ROUNDS):
                    await set_campaigns([], redis, prefix)
                    results["none"].append(await purchase_round(api, key, members))
                    await set_campaigns(campaigns, redis, prefix)
                    results["50"].append(await purchase_round(api, key, members))
                await set_campaigns([*campaigns[:49], applying], redis, prefix)
                results["50+1"].append(await purchase_round(api, key, members))
        finally:
            await redis.aclose()
            await close_pool()

    def figures(name: str) -> tuple[float, float, float]:
        rates = [rate for rate, _ in results[name]]
        latencies = [ms for _, round_ms in results[name] for ms in round_ms]
        return sum(rates) / len(rates), percentile(latencies, 0.5), percentile(latencies, 0.99)

    none_rate, none_p50, none_p99 = figures("none")
    many_rate, many_p50, many_p99 = figures("50")
    one_rate, one_p50, one_p99 = figures("50+1")
    report.figure(
        Figure(
            name="purchases/s with 50 campaigns in effect, none awarding",
            value=many_rate,
            unit="/s",
            baseline=none_rate,
            baseline_name="no campaigns in effect",
            at_least=0.9,
            note=f"p99 {many_p99:.1f} ms against {none_p99:.1f} ms",
        )
    )
    report.figure(
        Figure(
            name="purchases/s with 50 campaigns in effect, one awarding",
            value=one_rate,
            unit="/s",
            baseline=none_rate,
            baseline_name="no campaigns in effect",
            note=f"p99 {one_p99:.1f} ms",
        )
    )
    report += [
        f"# Purchases with 50 campaigns in effect ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {os.cpu_count()} CPUs; one `astrocoffee serve` process; {ROUNDS} alternating "
        f"rounds of {PER_ROUND} purchases at concurrency {CONCURRENCY} per side; "
        f"PostgreSQL: {'embedded' if settings.uses_embedded_servers else 'external'}.",
        "",
        "| path | purchases/s | p50 ms | p99 ms | vs none (throughput) |",
        "| --- | --- | --- | --- | --- |",
        f"| no campaigns (baseline) | {none_rate:.0f} | {none_p50:.1f} | {none_p99:.1f} | 1.00 |",
        f"| 50 campaigns, none awarding | {many_rate:.0f} | {many_p50:.1f} | {many_p99:.1f} | {many_rate / none_rate:.2f} |",
        f"| 50 campaigns, one awarding | {one_rate:.0f} | {one_p50:.1f} | {one_p99:.1f} | {one_rate / none_rate:.2f} |",
        "",
        f"Target: 50 campaigns within 10 % of none: {'met' if many_rate >= 0.9 * none_rate else 'MISSED'}.",
    ]


def main() -> int:
    return run_bench("campaigns", run)


if __name__ == "__main__":
    raise SystemExit(main())
