"""Sale-to-provider latency of push under a purchase load (``make bench``, issue #21), against
sale-to-WebSocket latency of the same sales in the same run.

One `astrocoffee serve` and one `astrocoffee push-worker` (the scheduler off: the worker feeds
itself), the three push providers' fakes as real HTTP servers in this process (FCM and Web
Push over HTTP/1.1, APNs over HTTP/2), each stamping when a push arrives. Every member has an
Android phone (FCM); every fifth an iPhone (APNs) too, every tenth a browser (Web Push). Sales
are posted at a steady moderate rate (``BENCH_PUSH_RATE``, 20/s, for ``BENCH_PUSH_SECONDS``,
20 s), members in turn, each member's socket open (naming no device, so the open-socket rule
does not hold a push back).

Both latencies start at the sale's ``balance.updated`` time (``ts``, taken in the sale's
transaction just before it commits, as ``bench_ws``'s commit-to-client): the socket's ends
when the frame reaches the member's socket, the push's when a provider's fake takes the
``points_earned:<purchase id>`` push. The figure is their p99 ratio; the target is on the
push's absolute p99 too (a member with the app closed learns of the sale within 5 s).
Only ever targets 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

from devkit.ports import free_port
from devkit.processes import AppProcess
from loadtests.bench_report import BenchReport, Figure
from loadtests.benchlib import bench_env, bench_server, percentile, run_bench, sell, servers

MEMBERS = int(os.environ.get("BENCH_PUSH_MEMBERS", "300"))
RATE = float(os.environ.get("BENCH_PUSH_RATE", "20"))
SECONDS = float(os.environ.get("BENCH_PUSH_SECONDS", "20"))
# How long the pushes of the last sales may take to arrive before the run ends.
DRAIN_S = 15.0
TARGET_P99_MS = 5000
_KEY = re.compile(r"points_earned:([0-9a-f-]{36})")


async def add_devices(database_url: str, members: list[Any], browsers: list[dict[str, Any]]) -> int:
    """Each member's phone (FCM), every fifth's iPhone, every tenth's browser (Web Push), and
    no quiet hours (the run must not depend on the hour it runs at); how many devices."""
    import asyncpg

    now = datetime.now(UTC)
    devices: list[tuple[Any, ...]] = []
    for i, member in enumerate(members):
        owner = uuid.UUID(member.member_id)
        devices.append((uuid.uuid4(), owner, "fcm", f"bench-fcm-{i:06d}:" + "x" * 40, None, None))
        if i % 5 == 0:
            devices.append((uuid.uuid4(), owner, "apns", f"{i:064x}", None, None))
        if i % 10 == 0 and browsers:
            browser = browsers.pop()
            keys = browser["keys"]
            devices.append(
                (uuid.uuid4(), owner, "webpush", browser["endpoint"], keys["p256dh"], keys["auth"])
            )
    connection = await asyncpg.connect(database_url)
    try:
        await connection.executemany(
            "INSERT INTO member_device (id, member, provider, token, p256dh, auth, created_at,"
            " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            [(*device, now) for device in devices],
        )
        await connection.executemany(
            "INSERT INTO notification_settings (member, kinds_off, language, quiet_from,"
            " quiet_until, updated_at) VALUES ($1, '{}', 'ru', 0, 0, $2)",
            [(uuid.UUID(member.member_id), now) for member in members],
        )
    finally:
        await connection.close()
    return len(devices)


async def open_sockets(url: str, members: list[Any]) -> tuple[list[Any], list[tuple[float, str]]]:
    """A socket per member (no device named), and where every frame after the first lands."""
    import websockets

    frames: list[tuple[float, str]] = []
    sockets = []
    for start in range(0, len(members), 100):
        batch = members[start : start + 100]
        opened = await asyncio.gather(
            *(
                websockets.connect(f"{url}?token={m.token}&last_seq=0", ping_interval=None)
                for m in batch
            )
        )
        for ws in opened:
            await asyncio.wait_for(ws.recv(), 30)  # ready
        sockets += opened

    async def listen(ws: Any) -> None:
        async for raw in ws:
            frames.append((time.time(), raw))

    for ws in sockets:
        asyncio.get_running_loop().create_task(listen(ws))
    return sockets, frames


def sale_times(frames: list[tuple[float, str]]) -> tuple[dict[str, float], list[float]]:
    """Each sale's ``balance.updated`` time (by purchase id), and the socket latencies (ms)."""
    at: dict[str, float] = {}
    latencies = []
    for arrived, raw in frames:
        frame = json.loads(raw)
        purchase = (frame.get("data") or {}).get("purchase_id")
        if frame.get("type") != "balance.updated" or purchase is None:
            continue
        ts = datetime.fromisoformat(frame["ts"].replace("Z", "+00:00")).timestamp()
        at[purchase] = ts
        latencies.append((arrived - ts) * 1000)
    return at, latencies


def push_latencies(
    services: dict[str, Any], at: dict[str, float]
) -> tuple[dict[str, list[float]], int]:
    """Per provider, the latencies (ms) of the sales' pushes; how many matched no sale."""
    by_provider: dict[str, list[float]] = {}
    unmatched = 0
    for name, service in services.items():
        for push in service.received:
            found = _KEY.search(json.dumps(push, default=str))
            if found is None or found.group(1) not in at:
                unmatched += 1
                continue
            latency = (push["received_at"] - at[found.group(1)]) * 1000
            by_provider.setdefault(name, []).append(latency)
    return by_provider, unmatched


async def run(report: BenchReport) -> None:
    from devkit.fakes.push_services import serving_push_fakes

    settings, _handles = servers()
    async with AsyncExitStack() as stack:
        fakes = await stack.enter_async_context(serving_push_fakes())
        web_push, fcm, apns = fakes.web_push, fakes.fcm, fakes.apns
        bench = await stack.enter_async_context(bench_server(settings))
        seeded = await bench.seed(MEMBERS, stores=2)
        members = seeded.members
        browsers = [fakes.browser() for _ in range(0, len(members), 10)]
        devices = await add_devices(bench.database_url, members, browsers)
        metrics_port = free_port()
        env = bench_env(
            bench.database_url,
            bench.redis_url,
            secret=bench.secret,
            prefix=bench.prefix,
            **fakes.worker_env(),
            ASTROCOFFEE_PUSH_WORKER_METRICS_PORT=str(metrics_port),
        )
        worker = await stack.enter_async_context(
            AppProcess.command("push-worker", env=env, port=metrics_port)
        )
        await worker.ready("/metrics", any_answer=True)
        sockets, frames = await open_sockets(bench.app.ws_url, members)
        try:
            statuses = await paced_sales(bench.app.port, seeded.till_keys, members)
            expected = sum(1 for status in statuses if status == 201)
            services = {"fcm": fcm, "apns": apns, "webpush": web_push}
            await drained(fcm, expected)
            await asyncio.sleep(1)  # the other providers' last pushes
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    at, socket_ms = sale_times(frames)
    pushes, unmatched = push_latencies(services, at)
    every = [latency for latencies in pushes.values() for latency in latencies]
    if not every or not socket_ms:
        raise RuntimeError(f"no latencies: {len(every)} pushes, {len(socket_ms)} socket frames")
    push_p50, push_p99 = percentile(every, 0.5), percentile(every, 0.99)
    socket_p50, socket_p99 = percentile(socket_ms, 0.5), percentile(socket_ms, 0.99)
    sold = len(statuses)
    load = f"{sold} sales at {RATE:g}/s to {MEMBERS} members ({devices} devices)"
    report.figure(
        Figure(
            name="sale-to-provider p99 (push, app closed)",
            value=push_p99,
            unit="ms",
            at_most=TARGET_P99_MS,
            note=f"p50 {push_p50:.0f} ms; {load}; {len(every)} pushes",
        )
    )
    report.figure(
        Figure(
            name="sale-to-provider p99 against sale-to-WebSocket p99",
            value=push_p99,
            unit="ms",
            baseline=socket_p99,
            baseline_name="balance.updated to the member's socket",
            note=f"socket p50 {socket_p50:.1f} ms, p99 {socket_p99:.1f} ms; push/socket p50 "
            f"{push_p50 / max(socket_p50, 0.001):.0f}x",
        )
    )
    report += [
        "# Sale to the push provider, against sale to the WebSocket",
        "",
        f"One `astrocoffee serve` and one `astrocoffee push-worker` (feeding itself each "
        f"round, 1 s idle wait); the providers' fakes over HTTP in the bench process; {load}, "
        f"every member's socket open. Both latencies from the sale's `balance.updated` time.",
        "",
        f"- sales answered 201: {sum(1 for s in statuses if s == 201)} of {sold}",
        f"- socket: {len(socket_ms)} balance.updated frames, p50 {socket_p50:.1f} ms, "
        f"p99 {socket_p99:.1f} ms",
        f"- push, every provider: {len(every)} pushes, p50 {push_p50:.0f} ms, "
        f"p99 {push_p99:.0f} ms ({unmatched} matched no sale)",
        *(
            f"- push, {name}: {len(latencies)}, p50 {percentile(latencies, 0.5):.0f} ms, "
            f"p99 {percentile(latencies, 0.99):.0f} ms"
            for name, latencies in sorted(pushes.items())
        ),
    ]


async def drained(fcm: Any, expected: int) -> None:
    """Until every sale's phone push arrived, or ``DRAIN_S``."""
    deadline = time.monotonic() + DRAIN_S
    for _ in range(int(DRAIN_S / 0.2)):
        if len(fcm.received) >= expected or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.2)


async def paced_sales(port: int, till_keys: list[str], members: list[Any]) -> list[int]:
    """Sales at ``RATE`` a second for ``SECONDS``, on a fixed schedule (open loop), members
    in turn; their statuses."""
    import httpx

    count = int(RATE * SECONDS)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:
        started = time.perf_counter()

        async def one(n: int) -> int:
            await asyncio.sleep(max(0.0, started + n / RATE - time.perf_counter()))
            member = members[n % len(members)]
            till = till_keys[n % len(till_keys)]
            response = await sell(api, till, member.card_number, f"bench-push-{n}")
            return response.status_code

        return list(await asyncio.gather(*(one(n) for n in range(count))))


def main() -> int:
    return run_bench("push", run)


if __name__ == "__main__":
    raise SystemExit(main())
