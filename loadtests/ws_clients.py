"""The client side of the socket benches (``bench_ws``, ``bench_storm``): many WebSockets from
one asyncio process, each counted, and the same fan-out burst for whichever server holds
them. Only ever targets 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psutil
import websockets

BATCH = 100  # connects in flight at once: a phone fleet does not arrive in one instant


@dataclass
class Fleet:
    """Open sockets and the frames each has received since its first."""

    sockets: list[Any] = field(default_factory=list)
    received: list[int] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return sum(self.received)

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


async def open_fleet(urls: Iterable[str]) -> Fleet:
    """Connect every URL (``BATCH`` at a time), wait for each socket's first frame, then count
    what each receives."""
    fleet = Fleet()
    pending = list(urls)

    async def one(url: str) -> Any:
        ws = await websockets.connect(url, max_size=None, open_timeout=60, ping_interval=None)
        await asyncio.wait_for(ws.recv(), 60)  # ready
        return ws

    for start in range(0, len(pending), BATCH):
        fleet.sockets += await asyncio.gather(*(one(u) for u in pending[start : start + BATCH]))
    fleet.received = [0] * len(fleet.sockets)

    async def count(i: int, ws: Any) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for _ in ws:
                fleet.received[i] += 1

    fleet.readers = [asyncio.create_task(count(i, ws)) for i, ws in enumerate(fleet.sockets)]
    return fleet


async def idle_cost(pid: int, urls: list[str], *, settle_s: float = 1.0) -> tuple[Fleet, float]:
    """Open ``urls`` against the server process ``pid``; the fleet and its memory per socket
    in KiB (the growth of the process's RSS over the sockets, after ``settle_s``). A first
    batch is opened and closed before: what a server sets up once (caches, lazy imports,
    pools) is not a socket's cost."""
    process = psutil.Process(pid)
    await (await open_fleet(urls[:BATCH])).close()
    await asyncio.sleep(settle_s)
    before = process.memory_info().rss
    fleet = await open_fleet(urls)
    await asyncio.sleep(settle_s)
    after = process.memory_info().rss
    return fleet, (after - before) / len(urls) / 1024


@dataclass(frozen=True)
class FanOut:
    delivered: int
    seconds: float  # from the first publish to the last delivery
    server_cpu_s: float  # the server process's CPU time (user + system) meanwhile

    @property
    def rate(self) -> float:
        """Deliveries per second of wall-clock time (bounded by the client as well)."""
        return self.delivered / self.seconds

    @property
    def per_cpu_second(self) -> float:
        """Deliveries per second of the server's own CPU: its capacity on one CPU."""
        return self.delivered / self.server_cpu_s


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def fan_out(
    redis_url: str,
    pid: int,
    fleet: Fleet,
    messages: list[tuple[str, bytes]],
    *,
    timeout_s: float = 120,
) -> FanOut:
    """Publish ``messages`` (channel, payload) in one pipeline and wait until every one has
    reached its socket (or ``timeout_s``); what the server process ``pid`` did meanwhile."""
    from redis.asyncio import Redis

    start_count = fleet.delivered
    redis = Redis.from_url(redis_url)
    try:
        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        async with redis.pipeline(transaction=False) as pipe:
            for name, payload in messages:
                pipe.publish(name, payload)
            await pipe.execute()
        while fleet.delivered - start_count < len(messages):
            if time.perf_counter() - started > timeout_s:
                break
            await asyncio.sleep(0.005)
        seconds = time.perf_counter() - started
        return FanOut(fleet.delivered - start_count, seconds, cpu_seconds(pid) - cpu_before)
    finally:
        await redis.aclose()
