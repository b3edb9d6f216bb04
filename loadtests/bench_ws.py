"""WebSocket figures of one `astrocoffee serve` process (``make bench``).

Measures, against a baseline taken in the same run on the same Redis:
  * idle connections held and server memory per connection (RSS delta / connections);
  * fan-out: envelopes delivered to clients per second (baseline: raw Redis pub/sub to one
    plain subscriber, messages per second);
  * commit-to-client latency of ``balance.updated`` under a steady purchase load (Poisson
    arrivals at ``BENCH_WS_PURCHASE_RATE``, 100/s), p50/p99
    (baseline: Redis PUBLISH-to-subscriber latency p50/p99).
Writes ``loadtests/reports/bench-ws-<date>.md``. Only ever targets 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import time
from datetime import UTC, datetime
from typing import Any

from loadtests.benchlib import bench_server, percentile, run_bench, servers

CONNECTIONS = int(os.environ.get("BENCH_WS_CONNECTIONS", "500"))
FANOUT_EVENTS = int(os.environ.get("BENCH_WS_FANOUT_EVENTS", "20"))
PURCHASES = int(os.environ.get("BENCH_WS_PURCHASES", "300"))
# A steady purchase load, as the target says: Poisson arrivals at this rate (the Locust mix's
# design rate), not a closed loop that saturates the server and measures its queue instead.
PURCHASE_RATE = float(os.environ.get("BENCH_WS_PURCHASE_RATE", "100"))


async def redis_baseline(redis_url: str, messages: int) -> tuple[float, float, float]:
    """Raw pub/sub on the same Redis: messages/s to one subscriber, latency p50/p99 (ms)."""
    from redis.asyncio import Redis

    publisher, subscriber = Redis.from_url(redis_url), Redis.from_url(redis_url)
    pubsub = subscriber.pubsub()
    await pubsub.subscribe("bench-baseline")
    await pubsub.get_message(timeout=1)
    latencies: list[float] = []

    async def consume() -> None:
        while len(latencies) < messages:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is not None:
                latencies.append((time.perf_counter() - float(message["data"])) * 1000)

    consumer = asyncio.create_task(consume())
    started = time.perf_counter()
    async with publisher.pipeline(transaction=False) as pipe:
        for _ in range(messages):
            pipe.publish("bench-baseline", str(time.perf_counter()))
        await pipe.execute()
    await asyncio.wait_for(consumer, 60)
    rate = messages / (time.perf_counter() - started)
    # Latency one at a time (the pipelined burst above measures throughput).
    latencies.clear()
    for _ in range(200):
        waiter = asyncio.create_task(pubsub.get_message(ignore_subscribe_messages=True, timeout=1))
        sent = time.perf_counter()
        await publisher.publish("bench-baseline", str(sent))
        message = await waiter
        if message is not None:
            latencies.append((time.perf_counter() - sent) * 1000)
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await publisher.aclose()
    await subscriber.aclose()
    return rate, percentile(latencies, 0.5), percentile(latencies, 0.99)


async def run(report: list[str]) -> None:
    import httpx
    import psutil
    import websockets
    from redis.asyncio import Redis

    settings, _handles = servers()
    sockets: list[Any] = []
    async with bench_server(settings, ASTROCOFFEE_WS_QUEUE_SIZE="4096") as bench:
        base, prefix = f"127.0.0.1:{bench.port}", bench.prefix
        try:
            seeded = await bench.seed(CONNECTIONS)
            key, members = seeded.till_keys[0], seeded.members
            async with httpx.AsyncClient(base_url=f"http://{base}", timeout=30) as api:
                process = psutil.Process(bench.pid)
                rss_before = process.memory_info().rss

                received: dict[int, list[tuple[float, dict[str, Any]]]] = {
                    i: [] for i in range(CONNECTIONS)
                }

                async def listen(i: int, ws: Any) -> None:
                    async for raw in ws:
                        received[i].append((time.time(), json.loads(raw)))

                started = time.perf_counter()
                for batch in range(0, CONNECTIONS, 50):
                    opened = await asyncio.gather(
                        *(
                            websockets.connect(
                                f"ws://{base}/v1/ws?token={members[i].token}", max_size=None
                            )
                            for i in range(batch, min(CONNECTIONS, batch + 50))
                        )
                    )
                    sockets.extend(opened)
                for ws in sockets:
                    json.loads(await ws.recv())  # ready
                connect_s = time.perf_counter() - started
                await asyncio.sleep(1)
                rss_after = process.memory_info().rss
                listeners = [asyncio.create_task(listen(i, ws)) for i, ws in enumerate(sockets)]

                # Fan-out: envelopes published straight to every member's channel.
                from realtime.channels import channel, member_stream
                from realtime.protocol import EventEnvelope, encode, utc_now

                redis = Redis.from_url(settings.redis_url)
                total = CONNECTIONS * FANOUT_EVENTS
                started = time.perf_counter()
                async with redis.pipeline(transaction=False) as pipe:
                    for seq in range(1, FANOUT_EVENTS + 1):
                        for member in members:
                            pipe.publish(
                                channel(prefix, member_stream(member.member_id)),
                                encode(
                                    EventEnvelope(
                                        "offer.available", seq, utc_now(), {"bench": True}
                                    )
                                ),
                            )
                    await pipe.execute()
                while sum(len(v) for v in received.values()) < total:
                    if time.perf_counter() - started > 120:
                        break
                    await asyncio.sleep(0.01)
                delivered = sum(len(v) for v in received.values())
                fanout_rate = delivered / (time.perf_counter() - started)
                await redis.aclose()

                # Commit-to-client latency under a purchase load (members 0..N round robin).
                # The benchmark's own fan-out used seqs 1..F without storing them; continue the
                # stored seqs after them so the gateway does not wait for a replay.
                from db.pool import close_pool, engine, start_pool

                await start_pool()
                await engine().pool.execute(f"UPDATE account SET last_event_seq = {FANOUT_EVENTS}")
                await close_pool()
                for values in received.values():
                    values.clear()
                schedule = list(
                    itertools.accumulate(
                        random.expovariate(PURCHASE_RATE) for _ in range(PURCHASES)
                    )
                )
                started = time.perf_counter()

                async def purchase(n: int) -> int:
                    member = members[n % CONNECTIONS]
                    await asyncio.sleep(max(0.0, started + schedule[n] - time.perf_counter()))
                    response = await api.post(
                        "/v1/purchases",
                        json={
                            "customer": {"card_number": member.card_number},
                            "external_id": f"b{n}",
                            "amount": 35000,
                            "currency": "RUB",
                        },
                        headers={"X-Api-Key": key, "Idempotency-Key": f"bench-{n}"},
                    )
                    return response.status_code

                statuses = await asyncio.gather(*(purchase(n) for n in range(PURCHASES)))
                purchase_s = time.perf_counter() - started
                await asyncio.sleep(2)
                latencies = [
                    (at - datetime.fromisoformat(frame["ts"].replace("Z", "+00:00")).timestamp())
                    * 1000
                    for values in received.values()
                    for at, frame in values
                    if frame.get("type") == "balance.updated"
                ]
                for task in listeners:
                    task.cancel()
            baseline_rate, baseline_p50, baseline_p99 = await redis_baseline(
                settings.redis_url, total
            )
        finally:
            for ws in sockets:
                await ws.close()

    per_connection_kib = (rss_after - rss_before) / CONNECTIONS / 1024
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    report += [
        f"# WebSocket bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {os.cpu_count()} CPUs; one `astrocoffee serve` process (1 worker); "
        f"clients in one asyncio process on the same machine; Redis: {settings.redis_url.split('?')[0]}.",
        "",
        "| figure | value | baseline (same run) | ratio |",
        "| --- | --- | --- | --- |",
        f"| idle connections held | {len(sockets)} (opened in {connect_s:.1f} s) | | |",
        f"| server memory per connection | {per_connection_kib:.1f} KiB (RSS {rss_before / 2**20:.0f} → {rss_after / 2**20:.0f} MiB) | | |",
        f"| fan-out deliveries per second | {fanout_rate:,.0f} ({delivered}/{total} delivered) | raw Redis pub/sub to 1 subscriber: {baseline_rate:,.0f} msg/s | {fanout_rate / baseline_rate:.2f} |",
        f"| commit-to-client p50 / p99 | {p50:.1f} / {p99:.1f} ms ({len(latencies)} balance.updated, {PURCHASES} purchases arriving at {PURCHASE_RATE:.0f}/s (Poisson), {statuses.count(201)} × 201, {PURCHASES / purchase_s:.0f} purchases/s) | Redis publish-to-subscriber: {baseline_p50:.2f} / {baseline_p99:.2f} ms | {p50 / baseline_p50:.0f}× / {p99 / baseline_p99:.0f}× |",
    ]


def main() -> int:
    return run_bench("ws", run)


if __name__ == "__main__":
    raise SystemExit(main())
