"""PostgreSQL's CPU per transaction, measured the same way for pgbench and for sales: the
CPU time (``/proc/<pid>/stat`` utime + stime) of the server's backend processes connected to
one database, summed over a run. A backend that starts during the run counts from zero (a
forked backend starts with none); one that ends counts up to its last sample (every 50 ms),
so the figure is low by at most that much of each ending backend's time. Shared background
work (WAL writer, checkpointer, autovacuum) is left out on both sides. The server must be on
this machine (127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
SAMPLE_S = 0.05


def process_cpu_s(pid: int) -> float | None:
    """utime + stime of ``pid`` in seconds; None once it has gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    # After the name: state is field 3; utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) * TICK_S


@dataclass
class BackendCpu:
    """CPU seconds of the backends of one database since ``start`` (see the module)."""

    first: dict[int, float] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)

    def sample(self, pids: list[int], *, new_from_zero: bool) -> None:
        for pid in pids:
            cpu = process_cpu_s(pid)
            if cpu is None:
                continue
            self.first.setdefault(pid, 0.0 if new_from_zero else cpu)
            self.last[pid] = cpu


@contextlib.asynccontextmanager
async def backend_cpu(admin_url: str, database: str) -> AsyncIterator[BackendCpu]:
    """Sample the backends of ``database`` while the block runs (the admin connection's own
    backend is on another database, so it is not counted)."""
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    cpu = BackendCpu()
    query = (
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'"
    )
    cpu.sample([r["pid"] for r in await connection.fetch(query, database)], new_from_zero=False)
    running = True

    async def follow() -> None:
        while running:
            await asyncio.sleep(SAMPLE_S)
            pids = [r["pid"] for r in await connection.fetch(query, database)]
            cpu.sample(sorted(set(pids) | set(cpu.last)), new_from_zero=True)

    task = asyncio.create_task(follow())
    try:
        yield cpu
    finally:
        running = False
        await task
        cpu.sample(list(cpu.last), new_from_zero=True)
        await connection.close()
