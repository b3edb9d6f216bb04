"""The sale's three ratios (issue #24), each against a baseline measured in the same run
(``make bench``):

1. pgbench TPC-B-like on the same PostgreSQL server (a scratch database it initialised), the
   same client count and duration: its transactions per second, and PostgreSQL's CPU per
   transaction (``pg_cpu``: the backends of that database, per process).
2. A bare Litestar POST (``loadtests/peers/bare_litestar.py``: the sale's body as a msgspec
   Struct, `astrocoffee serve`'s uvicorn settings), driven by the same client with the same
   bytes: the server's CPU per request, the framework's floor.
3. Sales over HTTP at saturation (one-shot purchases that earn points, members' cards in
   turn, over several stores): sales/s, the server's CPU per sale and PostgreSQL's, measured
   the same way as the baselines; then p50/p99 at half that rate, open loop (requests sent on
   a fixed schedule whatever the answers do).

``BENCH_PROFILE=1`` also records the server with py-spy during the saturation phase
(``loadtests/reports/profile-purchases.json``, speedscope). Only ever targets 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

from devkit.databases import drop_database
from devkit.processes import AppProcess
from loadtests.bench_report import REPORTS, BenchReport, Figure
from loadtests.benchlib import bench_server, fresh_database, percentile, run_bench, servers
from loadtests.http_load import Saturated, paced, saturate
from loadtests.pg_cpu import backend_cpu

CLIENTS = int(os.environ.get("BENCH_PURCHASES_CLIENTS", "16"))
DURATION_S = int(os.environ.get("BENCH_PURCHASES_DURATION_S", "20"))
MEMBERS = 2000
# The chain's sales are spread over its stores, as a chain's are.
STORES = int(os.environ.get("BENCH_PURCHASES_STORES", "8"))
WORKERS = int(os.environ.get("BENCH_PURCHASES_WORKERS", "1"))


def pgbench_binary(embedded: bool) -> str:
    if embedded:
        import pgserver

        return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench")
    return shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"


def database_name(url: str) -> str:
    """The database of a URL (a socket folder in ``?host=`` may hold slashes too)."""
    return urllib.parse.urlsplit(url).path.lstrip("/")


async def pgbench(binary: str, admin_url: str, url: str) -> tuple[float, int, float]:
    """tps, transactions and PostgreSQL CPU seconds of a TPC-B-like run on ``url``."""
    subprocess.run([binary, "-i", "-s", "8", "-q", url], check=True, capture_output=True)  # noqa: S603
    async with backend_cpu(admin_url, database_name(url)) as cpu:
        process = await asyncio.create_subprocess_exec(
            binary,
            *("-c", str(CLIENTS), "-j", "2", "-T", str(DURATION_S), "-M", "prepared", url),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
    text = out.decode()
    assert process.returncode == 0, err.decode()
    tps = re.search(r"tps = ([0-9.]+)", text)
    done = re.search(r"actually processed: ([0-9]+)", text)
    assert tps and done, text
    return float(tps.group(1)), int(done.group(1)), cpu.seconds


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


def tree_cpu(process: Any) -> float:
    """CPU seconds of a process and its children (uvicorn's workers)."""
    return sum(sum(one.cpu_times()[:2]) for one in [process, *process.children(recursive=True)])


def cpu_of(name: str) -> float:
    """CPU seconds used so far by every live process called ``name``."""
    import psutil

    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        if process.info["name"] == name and process.info["cpu_times"] is not None:
            total += sum(process.info["cpu_times"][:2])
    return total


async def measured(pid: int, port: int, request: Any) -> tuple[Saturated, float, float]:
    """Saturate the server ``pid``: the result, its CPU seconds and the load generator's."""
    import psutil

    server, me = psutil.Process(pid), psutil.Process()
    server_before, own_before = tree_cpu(server), sum(me.cpu_times()[:2])
    result = await saturate(port, request, clients=CLIENTS, seconds=DURATION_S)
    return result, tree_cpu(server) - server_before, sum(me.cpu_times()[:2]) - own_before


def profiler(pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy on the server during the saturation phase, when ``BENCH_PROFILE`` is set."""
    if not os.environ.get("BENCH_PROFILE"):
        return None
    out = REPORTS / "profile-purchases.json"
    return subprocess.Popen(  # noqa: S603
        [
            *(str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid)),
            *("--subprocesses", "--duration", str(DURATION_S), "--format", "speedscope"),
            *("-o", str(out)),
        ],
        stdout=subprocess.DEVNULL,
    )


async def bare_post(key: str, card: str) -> tuple[Saturated, float]:
    """The bare Litestar peer at saturation: the result and its server CPU seconds."""
    async with AppProcess.module(
        "loadtests.peers.bare_litestar", "--workers", str(WORKERS)
    ) as peer:
        await peer.ready()
        bare, bare_cpu, _ = await measured(
            peer.pid, peer.port, lambda n: purchase(peer.port, key, card)
        )
    return bare, bare_cpu


async def run(report: BenchReport) -> None:
    embedded = not os.environ.get("DATABASE_URL")  # servers() fills it in
    settings, _handles = servers()
    admin_url = settings.database_url
    baseline_db = await fresh_database(admin_url)
    try:
        tps, transactions, pgbench_cpu = await pgbench(
            pgbench_binary(embedded), admin_url, baseline_db
        )
    finally:
        await drop_database(admin_url, baseline_db)

    async with bench_server(
        settings, DATABASE_POOL_MAX=str(max(10, CLIENTS)), ASTROCOFFEE_WORKERS=str(WORKERS)
    ) as bench:
        port = bench.app.port
        seeded = await bench.seed(MEMBERS, stores=STORES)
        cards = [m.card_number for m in seeded.members]
        keys = seeded.till_keys
        bare, bare_cpu = await bare_post(keys[0], cards[0])

        def sale(n: int) -> bytes:
            return purchase(port, keys[n % len(keys)], cards[n % len(cards)])

        await asyncio.sleep(1)
        spy = profiler(bench.app.pid)
        redis_before = cpu_of("redis-server")
        async with backend_cpu(admin_url, database_name(bench.database_url)) as sale_db_cpu:
            sales, server_cpu, own_cpu = await measured(bench.app.pid, port, sale)
        redis_cpu = cpu_of("redis-server") - redis_before
        if spy is not None:
            spy.wait()
        latencies, paced_failures = await paced(
            port, sale, rate=sales.rate / 2, seconds=DURATION_S, connections=CLIENTS * 2
        )

    ms = 1000
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    figures = [
        Figure(
            name="PostgreSQL CPU per sale",
            value=ms * sale_db_cpu.seconds / sales.done,
            unit="ms",
            baseline=ms * pgbench_cpu / transactions,
            baseline_name="per pgbench TPC-B transaction",
            at_most=1.0,
            note="its backends, per process",
        ),
        Figure(
            name="server CPU per sale",
            value=ms * server_cpu / sales.done,
            unit="ms",
            baseline=ms * bare_cpu / bare.done,
            baseline_name="per bare Litestar POST",
            at_most=3.0,
            note=f"{WORKERS} uvicorn worker(s)",
        ),
        Figure(
            name="sales/s at saturation",
            value=sales.rate,
            unit="/s",
            baseline=tps,
            baseline_name="pgbench TPC-B tps",
            at_least=0.3,
            note=f"{CLIENTS} clients, {sales.failures} failed",
        ),
        Figure(
            name=f"sale p99 at half that rate ({sales.rate / 2:,.0f}/s, open loop)",
            value=p99,
            unit="ms",
            at_most=10,
            note=f"p50 {p50:.1f} ms, {paced_failures} failed",
        ),
    ]
    for figure in figures:
        report.figure(figure)
    report += [
        "# Sales against pgbench and a bare Litestar POST",
        "",
        f"One `astrocoffee serve` ({WORKERS} uvicorn worker(s)); PostgreSQL "
        f"{'embedded' if embedded else 'external'}; {CLIENTS} clients over "
        f"{STORES} stores (a till each), {DURATION_S} s per phase.",
        "",
        f"- pgbench TPC-B-like (scale 8, {CLIENTS} clients, prepared): {tps:,.0f} tps, "
        f"{transactions:,} transactions, its backends {pgbench_cpu:.1f} CPU s",
        f"- bare Litestar POST: {bare.rate:,.0f}/s ({bare.failures} failed), "
        f"server {ms * bare_cpu / bare.done:.3f} ms CPU per request",
        f"- sales: {sales.rate:,.0f}/s, {sales.done:,} sales; CPU per sale: server "
        f"{ms * server_cpu / sales.done:.2f} ms, load generator {ms * own_cpu / sales.done:.2f} ms, "
        f"PostgreSQL backends {ms * sale_db_cpu.seconds / sales.done:.2f} ms, every redis-server "
        f"process on the machine {ms * redis_cpu / sales.done:.2f} ms",
        f"- at half the saturation rate: p50 {p50:.1f} ms, p99 {p99:.1f} ms",
    ]


def main() -> int:
    import uvloop

    uvloop.install()
    return run_bench("purchases", run)


if __name__ == "__main__":
    raise SystemExit(main())
