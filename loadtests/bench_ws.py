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
import resource
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = int(os.environ.get("BENCH_WS_CONNECTIONS", "500"))
FANOUT_EVENTS = int(os.environ.get("BENCH_WS_FANOUT_EVENTS", "20"))
PURCHASES = int(os.environ.get("BENCH_WS_PURCHASES", "300"))
# A steady purchase load, as the target says: Poisson arrivals at this rate (the Locust mix's
# design rate), not a closed loop that saturates the server and measures its queue instead.
PURCHASE_RATE = float(os.environ.get("BENCH_WS_PURCHASE_RATE", "100"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def prepare_database(admin_url: str) -> str:
    import asyncpg

    name = f"astrocoffee_bench_{secrets.token_hex(3)}"
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(admin_url)._replace(path="/" + name))


async def drop_database(admin_url: str, url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1].split("?")[0]
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@dataclass
class BenchServer:
    """One `astrocoffee serve` on a fresh database of its own (dropped by ``stop``)."""

    process: subprocess.Popen[bytes]
    port: int
    database_url: str
    secret: str
    prefix: str

    async def stop(self, admin_url: str) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        await drop_database(admin_url, self.database_url)


async def start_bench_server(admin_url: str, redis_url: str, **extra_env: str) -> BenchServer:
    """Migrate a fresh database and start one serve process on it (production-like
    settings, limits lifted: the load comes from one address); ``extra_env`` adds settings."""
    database_url = await prepare_database(admin_url)
    os.environ["DATABASE_URL"] = database_url  # for the seeding done in this process
    secret = secrets.token_urlsafe(40)
    prefix = f"bench-{secrets.token_hex(3)}:"
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ASTROCOFFEE_SECRET_KEY": secret,
        "ASTROCOFFEE_REDIS_PREFIX": prefix,
        "ASTROCOFFEE_LOG_LEVEL": "WARNING",
        "ASTROCOFFEE_MAINTENANCE_INTERVAL_S": "0",
        "ASTROCOFFEE_AUTH_RATE_LIMIT_PER_MINUTE": "1000000",
        "ASTROCOFFEE_POS_RATE_LIMIT_PER_MINUTE": "100000000",
        **extra_env,
    }
    script = str(Path(sys.executable).with_name("astrocoffee"))
    migrate = subprocess.run(  # noqa: S603 - our own console script
        [script, "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert migrate.returncode == 0, migrate.stderr
    process = subprocess.Popen(  # noqa: S603
        [script, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return BenchServer(process, port, database_url, secret, prefix)


async def seed(
    count: int, secret: str, redis_url: str, prefix: str
) -> tuple[str, list[dict[str, str]]]:
    """One store and terminal; ``count`` members with a login session each (bulk, no HTTP)."""
    from redis.asyncio import Redis

    from backend.auth.sessions import SessionStore
    from backend.auth.terminals import create_terminal
    from backend.auth.tokens import MEMBER, TokenIssuer
    from backend.members.card_numbers import luhn_check_digit
    from db.ids import new_id
    from db.pool import close_pool, engine, start_pool
    from db.tables import Store

    await start_pool()
    store = Store(code="BENCH", name="Bench store", currency="RUB")
    await store.save()
    _, key = await create_terminal(store=store, name="bench till")
    members = []
    rows = []
    for i in range(count):
        body = f"77{i:013d}"
        members.append(
            {"id": str(new_id()), "card": body + luhn_check_digit(body), "phone": f"+7900{i:07d}"}
        )
        rows.append((members[-1]["id"], members[-1]["phone"], members[-1]["card"], str(new_id())))
    pool = engine().pool
    async with pool.acquire() as connection:
        await connection.executemany(
            "INSERT INTO member (id, phone, card_number, tier, created_at) VALUES ($1::uuid, $2, $3, 'green', now())",
            [r[:3] for r in rows],
        )
        await connection.executemany(
            "INSERT INTO account (id, member, available, pending, held, lifetime_earned, last_event_seq, updated_at)"
            " VALUES ($1::uuid, $2::uuid, 0, 0, 0, 0, 0, now())",
            [(r[3], r[0]) for r in rows],
        )
    redis = Redis.from_url(redis_url)
    sessions = SessionStore(redis=redis, prefix=prefix, ttl_s=3600)
    tokens = TokenIssuer(secret=secret, ttl_s=3600)
    import uuid

    for member in members:
        session = await sessions.open(subject=uuid.UUID(member["id"]), kind=MEMBER, device="bench")
        member["token"] = tokens.access_token(
            subject=uuid.UUID(member["id"]), kind=MEMBER, session_id=session.session_id
        )
    await redis.aclose()
    await close_pool()
    return key, members


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

    from backend.servers import ensure_servers
    from backend.settings import load_settings

    settings, _handles = ensure_servers(load_settings())
    assert settings.database_url and settings.redis_url
    bench = await start_bench_server(
        settings.database_url, settings.redis_url, ASTROCOFFEE_WS_QUEUE_SIZE="4096"
    )
    server, port, secret, prefix = bench.process, bench.port, bench.secret, bench.prefix
    base = f"127.0.0.1:{port}"
    sockets: list[Any] = []
    try:
        key, members = await seed(CONNECTIONS, secret, settings.redis_url, prefix)
        async with httpx.AsyncClient(base_url=f"http://{base}", timeout=30) as api:
            for _ in range(200):
                try:
                    if (await api.get("/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            process = psutil.Process(server.pid)
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
                            f"ws://{base}/v1/ws?token={members[i]['token']}", max_size=None
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
                            channel(prefix, member_stream(member["id"])),
                            encode(
                                EventEnvelope("offer.available", seq, utc_now(), {"bench": True})
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
                itertools.accumulate(random.expovariate(PURCHASE_RATE) for _ in range(PURCHASES))
            )
            started = time.perf_counter()

            async def purchase(n: int) -> int:
                member = members[n % CONNECTIONS]
                await asyncio.sleep(max(0.0, started + schedule[n] - time.perf_counter()))
                response = await api.post(
                    "/v1/purchases",
                    json={
                        "customer": {"card_number": member["card"]},
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
                (at - datetime.fromisoformat(frame["ts"].replace("Z", "+00:00")).timestamp()) * 1000
                for values in received.values()
                for at, frame in values
                if frame.get("type") == "balance.updated"
            ]
            for task in listeners:
                task.cancel()
        baseline_rate, baseline_p50, baseline_p99 = await redis_baseline(settings.redis_url, total)
    finally:
        for ws in sockets:
            await ws.close()
        await bench.stop(settings.database_url)

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
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    os.environ.setdefault("PICCOLO_CONF", "db.piccolo_conf")
    report: list[str] = []
    asyncio.run(run(report))
    text = "\n".join(report) + "\n"
    out = ROOT / "loadtests" / "reports" / f"bench-ws-{datetime.now(UTC):%Y-%m-%d}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
