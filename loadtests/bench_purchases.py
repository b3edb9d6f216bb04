"""Purchase throughput and latency of one `astrocoffee serve` process against the
PostgreSQL ceiling measured in the same run (``make bench``).

1. Baseline: ``pgbench`` TPC-B-like on the same PostgreSQL server (a scratch database), with
   the same client count and duration: the price of one durable multi-statement transaction
   on this hardware.
2. Purchases over HTTP at saturation: one-shot purchases that earn points, driven by a small
   keep-alive HTTP/1.1 client on uvloop (a few microseconds per request, far below the
   server's cost; its own CPU time is reported beside the server's to show it).
3. Latency p50/p99 at half the saturation rate (open loop: requests are sent on a fixed
   schedule whatever the answers do).

Writes ``loadtests/reports/bench-purchases-<date>.md``. Only ever targets 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devkit.databases import drop_database
from loadtests.bench_report import REPORTS
from loadtests.benchlib import (
    bench_server,
    fresh_database,
    percentile,
    run_bench,
    servers,
)

CLIENTS = int(os.environ.get("BENCH_PURCHASES_CLIENTS", "16"))
DURATION_S = int(os.environ.get("BENCH_PURCHASES_DURATION_S", "20"))
MEMBERS = 2000
# The chain's sales are spread over its stores; one store's sales serialize on its row for
# the store stream's seq (docs/architecture.md), which one till could never saturate.
STORES = int(os.environ.get("BENCH_PURCHASES_STORES", "8"))
WORKERS = int(os.environ.get("BENCH_PURCHASES_WORKERS", "1"))


def pgbench_binary(embedded: bool) -> str:
    if embedded:
        import pgserver

        return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench")
    return shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"


def pgbench(binary: str, url: str) -> float:
    subprocess.run([binary, "-i", "-s", "8", "-q", url], check=True, capture_output=True)  # noqa: S603
    done = subprocess.run(  # noqa: S603
        [binary, "-c", str(CLIENTS), "-j", "2", "-T", str(DURATION_S), "-M", "prepared", url],
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"tps = ([0-9.]+)", done.stdout)
    assert match, done.stdout
    return float(match.group(1))


class Connection:
    """One keep-alive HTTP/1.1 connection: write a request, read one response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status


def purchase(port: int, key: str, card: str) -> bytes:
    body = json.dumps(
        {
            "customer": {"card_number": card},
            "external_id": uuid.uuid4().hex,
            "amount": 35000,
            "currency": "RUB",
            "items": [
                {
                    "sku": "latte",
                    "name": "Latte",
                    "category": "coffee",
                    "quantity": 1,
                    "unit_price": 35000,
                }
            ],
        }
    ).encode()
    return (
        f"POST /v1/purchases HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Api-Key: {key}\r\n"
        f"Idempotency-Key: {uuid.uuid4().hex}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def saturate(port: int, keys: list[str], cards: list[str]) -> tuple[float, int]:
    connections = [
        Connection(*await asyncio.open_connection("127.0.0.1", port)) for _ in range(CLIENTS)
    ]
    done = 0
    failures = 0
    stop = time.perf_counter() + DURATION_S

    async def loop(connection: Connection, n: int) -> None:
        nonlocal done, failures
        i = n
        while time.perf_counter() < stop:
            key = keys[n % len(keys)]
            status = await connection.request(purchase(port, key, cards[i % len(cards)]))
            i += CLIENTS
            if status == 201:
                done += 1
            else:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(c, n) for n, c in enumerate(connections)))
    elapsed = time.perf_counter() - started
    for c in connections:
        c.writer.close()
    return done / elapsed, failures


async def paced(
    port: int, keys: list[str], cards: list[str], rate: float
) -> tuple[list[float], int]:
    """Open loop at ``rate``/s; each request on the next free connection."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(CLIENTS * 2):
        pool.put_nowait(Connection(*await asyncio.open_connection("127.0.0.1", port)))
    latencies: list[float] = []
    failures = 0
    tasks = []

    async def one(scheduled: float, n: int) -> None:
        nonlocal failures
        connection = await pool.get()
        key = keys[n % len(keys)]
        status = await connection.request(purchase(port, key, cards[n % len(cards)]))
        latencies.append((time.perf_counter() - scheduled) * 1000)  # from when it was due
        pool.put_nowait(connection)
        if status != 201:
            failures += 1

    interval = 1 / rate
    start = time.perf_counter()
    for n in range(int(rate * DURATION_S)):
        due = start + n * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, n)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().writer.close()
    return latencies, failures


def tree_cpu(process: Any) -> float:
    """CPU seconds of a process and its children (uvicorn's workers)."""
    total = 0.0
    for one in [process, *process.children(recursive=True)]:
        total += sum(one.cpu_times()[:2])
    return total


def cpu_of(name: str) -> float:
    """CPU seconds used so far by every process called ``name`` (PostgreSQL's backends come
    and go with connections, so the sum is taken over all of them, before and after)."""
    import psutil

    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        if process.info["name"] == name and process.info["cpu_times"] is not None:
            total += sum(process.info["cpu_times"][:2])
    return total


async def run(report: list[str]) -> None:
    import psutil

    settings, _handles = servers()
    baseline_db = await fresh_database(settings.database_url)
    try:
        tps = pgbench(pgbench_binary(settings.uses_embedded_servers), baseline_db)
    finally:
        await drop_database(settings.database_url, baseline_db)

    async with bench_server(
        settings,
        DATABASE_POOL_MAX=str(max(10, CLIENTS)),
        ASTROCOFFEE_WORKERS=str(WORKERS),
    ) as bench:
        port = bench.port
        seeded = await bench.seed(MEMBERS, stores=STORES)
        cards = [m.card_number for m in seeded.members]
        keys = seeded.till_keys
        await asyncio.sleep(1)
        profiler = None
        if os.environ.get("BENCH_PROFILE"):  # py-spy (pip install py-spy): where the CPU goes
            profiler = subprocess.Popen(  # noqa: S603
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--pid",
                    str(bench.pid),
                    "--duration",
                    str(DURATION_S),
                    "--format",
                    "speedscope",
                    "-o",
                    str(REPORTS / "profile-purchases.json"),
                ],
                stdout=subprocess.DEVNULL,
            )
        server_process = psutil.Process(bench.pid)
        me = psutil.Process()
        server_cpu, own_cpu = tree_cpu(server_process), me.cpu_times()
        database_cpu, redis_cpu = cpu_of("postgres"), cpu_of("redis-server")
        rate, sat_failures = await saturate(port, keys, cards)
        server_used = tree_cpu(server_process) - server_cpu
        own_used = sum(me.cpu_times()[:2]) - sum(own_cpu[:2])
        database_used = cpu_of("postgres") - database_cpu
        redis_used = cpu_of("redis-server") - redis_cpu
        if profiler is not None:
            profiler.wait()
        latencies, paced_failures = await paced(port, keys, cards, rate / 2)

    served = rate * DURATION_S
    report += [
        f"# Purchases against the PostgreSQL ceiling ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {os.cpu_count()} CPUs; one `astrocoffee serve` process ({WORKERS} uvicorn worker(s)); PostgreSQL "
        f"{'embedded' if settings.uses_embedded_servers else 'external'}; {CLIENTS} clients "
        f"over {STORES} stores (a till each), members' cards in turn, "
        f"{DURATION_S} s per phase.",
        "",
        "| figure | value | baseline (same run) | ratio |",
        "| --- | --- | --- | --- |",
        f"| pgbench TPC-B-like (scale 8, {CLIENTS} clients, prepared) | {tps:,.0f} tps | | |",
        f"| purchases at saturation over HTTP | {rate:,.0f}/s ({sat_failures} failed) | pgbench {tps:,.0f} tps | {rate / tps:.2f} |",
        f"| CPU per purchase: server / load generator | {1000 * server_used / served:.2f} / {1000 * own_used / served:.2f} ms | | |",
        f"| CPU per purchase: PostgreSQL / Redis (every process of that name) | {1000 * database_used / served:.2f} / {1000 * redis_used / served:.2f} ms | | |",
        f"| purchase latency p50 / p99 at half that rate ({rate / 2:,.0f}/s) | {percentile(latencies, 0.5):.1f} / {percentile(latencies, 0.99):.1f} ms ({paced_failures} failed) | target p99 ≤ 25 ms | |",
        "",
        "Targets (issue #10): purchases ≥ 1.0 x pgbench (≥ 0.5 x first); p99 ≤ 25 ms at half "
        f"the saturation rate. Met: throughput {'yes' if rate >= tps else 'no'}, "
        f"latency {'yes' if percentile(latencies, 0.99) <= 25 else 'no'}.",
    ]


def main() -> int:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        pass
    return run_bench("purchases", run)


if __name__ == "__main__":
    raise SystemExit(main())
