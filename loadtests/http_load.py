"""`make bench`'s HTTP client: keep-alive HTTP/1.1 connections on the bench's event loop
(uvloop), a few microseconds a request, far below a server's cost (its own CPU time is
reported beside the server's to show it). The same client drives the app and its bare
Litestar peer. Only ever targets 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass


class Connection:
    """One keep-alive HTTP/1.1 connection: write a request, read one response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

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


@dataclass(frozen=True)
class Saturated:
    rate: float  # answers with the expected status per second
    done: int
    failures: int


async def saturate(
    port: int, request: Callable[[int], bytes], *, clients: int, seconds: float, ok: int = 201
) -> Saturated:
    """Closed loop: ``clients`` connections each sending ``request(n)`` as soon as the last
    one is answered, for ``seconds``."""
    connections = [await Connection.open(port) for _ in range(clients)]
    done = failures = 0
    stop = time.perf_counter() + seconds

    async def loop(connection: Connection, n: int) -> None:
        nonlocal done, failures
        while time.perf_counter() < stop:
            if await connection.request(request(n)) == ok:
                done += 1
            else:
                failures += 1
            n += clients

    started = time.perf_counter()
    await asyncio.gather(*(loop(c, n) for n, c in enumerate(connections)))
    elapsed = time.perf_counter() - started
    for c in connections:
        c.writer.close()
    return Saturated(done / elapsed, done, failures)


async def paced(
    port: int,
    request: Callable[[int], bytes],
    *,
    rate: float,
    seconds: float,
    connections: int,
    ok: int = 201,
) -> tuple[list[float], int]:
    """Open loop at ``rate``/s, each request on the next free connection; the latencies (ms,
    from when each request was due, so a stalled server cannot hide its queue) and failures."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await Connection.open(port))
    latencies: list[float] = []
    failures = 0
    tasks = []

    async def one(scheduled: float, n: int) -> None:
        nonlocal failures
        connection = await pool.get()
        status = await connection.request(request(n))
        latencies.append((time.perf_counter() - scheduled) * 1000)
        pool.put_nowait(connection)
        if status != ok:
            failures += 1

    interval = 1 / rate
    start = time.perf_counter()
    for n in range(int(rate * seconds)):
        due = start + n * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, n)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().writer.close()
    return latencies, failures
