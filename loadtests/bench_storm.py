"""The reconnect storm (``make bench``, #23): every socket of a process dropped at once and
reconnected, measured on this tree and on an earlier commit in the same run.

For each tree (``BENCH_STORM_BEFORE``, 185e942 by default, checked out in a temporary
``git worktree``; then this one): a fresh database migrated and seeded by that tree's own
code, one ``serve`` process of it, ``BENCH_STORM_SOCKETS`` (5,000) member sockets from this
process. Then the process is killed (SIGKILL: every socket drops at once), a new one started,
and ``BENCH_STORM_GAP_MEMBERS`` (a tenth) of the members buy something meanwhile, so that
their streams have a gap to fill. Every socket then reconnects at once (500 handshakes in
flight), as that tree's client does: the earlier one sends ``resume`` after ``ready``, this
one gives its position on the URL (``?last_seq=``). Measured:

  * primary PostgreSQL transactions per reconnect: the database's ``xact_commit +
    xact_rollback`` (``pg_stat_database``) over the storm, less its background rate measured
    just before, over the sockets;
  * the time until every socket is current (its last seq is its account's newest).

Bounded by ``BENCH_STORM_TIMEOUT_S`` per phase. Only ever targets 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.databases import create_database, drop_database
from devkit.ports import free_port
from devkit.processes import ROOT, stop
from loadtests.bench_report import BenchReport, Figure
from loadtests.benchlib import bench_env, percentile, run_bench, sell, servers

BEFORE = os.environ.get("BENCH_STORM_BEFORE", "185e942")
SOCKETS = int(os.environ.get("BENCH_STORM_SOCKETS", "5000"))
GAP_MEMBERS = int(os.environ.get("BENCH_STORM_GAP_MEMBERS", str(SOCKETS // 10)))
TIMEOUT_S = float(os.environ.get("BENCH_STORM_TIMEOUT_S", "300"))
IN_FLIGHT = 500
# A backend that goes idle flushes its statistics within 10 s (PostgreSQL's idle interval).
_STATS_FLUSH_S = 11.0

# Run by the tree's own Python code (cwd = the tree): its seed matches its schema.
_SEED = """
import asyncio, json, sys
from devkit.seed import seed
async def main():
    s = await seed(sys.argv[1], sys.argv[2], redis_prefix=sys.argv[3], secret_key=sys.argv[4],
                   members=int(sys.argv[5]), store_name="Storm store", token_ttl_s=3600)
    members = [[m.member_id, m.token, m.card_number] for m in s.members]
    print(json.dumps({"till": s.till_keys[0], "members": members}))
asyncio.run(main())
"""


@contextmanager
def worktree(commit: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="astrocoffee-storm-"))
    git = shutil.which("git") or "git"
    subprocess.run(  # noqa: S603
        [git, "worktree", "add", "--detach", str(folder), commit],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(  # noqa: S603
            [git, "worktree", "remove", "--force", str(folder)], cwd=ROOT, capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


class Phone:
    """One member's socket and where it stands."""

    __slots__ = ("card", "done", "last_seq", "member_id", "target", "token", "ws")

    def __init__(self, member_id: str, token: str, card: str) -> None:
        self.member_id, self.token, self.card = member_id, token, card
        self.last_seq: int | None = None
        self.target = 0
        self.ws: Any = None
        self.done = asyncio.Event()

    def heard(self, raw: str | bytes) -> None:
        frame = json.loads(raw)
        if frame.get("type") == "resync" and frame.get("stream") is None:
            self.last_seq = int(frame["last_seq"])
        elif "seq" in frame and frame.get("stream") is None:
            self.last_seq = max(self.last_seq or 0, int(frame["seq"]))
        if (self.last_seq or 0) >= self.target:
            self.done.set()


@dataclass
class Storm:
    per_reconnect: float
    current_s: float
    p99_s: float
    transactions: float
    current: int  # sockets current by the end (all of them unless the phase timed out)


def server(tree: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "backend.cli", "serve", "--port", str(port)]
    return subprocess.Popen(argv, cwd=tree, env=env, stdout=subprocess.DEVNULL)  # noqa: S603


async def ready(port: int) -> None:
    import httpx

    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the server did not become ready")


_readers: list[asyncio.Task[None]] = []  # kept: a task nobody references may be collected


async def connect_all(phones: list[Phone], port: int, *, tell: bool) -> None:
    """Every phone connects (``IN_FLIGHT`` handshakes at once) and keeps reading. A phone
    with a position gives it on the URL (``tell``) or in a ``resume`` after ``ready``."""
    import websockets

    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(phone: Phone) -> None:
        url = f"ws://127.0.0.1:{port}/v1/ws?token={phone.token}"
        told = tell and phone.last_seq is not None
        if told:
            url += f"&last_seq={phone.last_seq}"
        while True:  # as a phone does: a refused or timed-out handshake is tried again
            try:
                async with gate:
                    phone.ws = await websockets.connect(url, max_size=None, open_timeout=30)
                    ready = json.loads(await asyncio.wait_for(phone.ws.recv(), 30))
                break
            except (OSError, TimeoutError, websockets.WebSocketException):
                await asyncio.sleep(random.uniform(0.5, 1.0))  # noqa: S311
        if phone.last_seq is None:  # a first connect: the position is ready's
            phone.last_seq = int(ready["last_seq"])
        if not told:
            await phone.ws.send(json.dumps({"type": "resume", "last_seq": phone.last_seq}))
        phone.heard("{}")
        async for raw in phone.ws:
            phone.heard(raw)

    _readers.clear()
    for phone in phones:
        phone.done.clear()
        _readers.append(asyncio.ensure_future(_quietly(one(phone))))


async def _quietly(coroutine: Any) -> None:
    with contextlib.suppress(Exception):  # a socket dropped by the storm itself
        await coroutine


async def all_current(
    phones: list[Phone], started: float, done_at: list[float] | None = None
) -> int:
    """Wait (at most ``TIMEOUT_S``) until every phone is current; how many are."""

    async def current(phone: Phone) -> None:
        await phone.done.wait()
        if done_at is not None:
            done_at.append(time.perf_counter() - started)

    waiting = [asyncio.ensure_future(current(p)) for p in phones]
    _, late = await asyncio.wait(waiting, timeout=TIMEOUT_S)
    for task in late:
        task.cancel()
    return len(phones) - len(late)


async def transactions(admin_url: str, database: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        value = await connection.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
            database,
        )
        return int(value)
    finally:
        await connection.close()


async def targets(database_url: str, phones: list[Phone]) -> None:
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT member::text, last_event_seq FROM account")
    finally:
        await connection.close()
    newest = {row[0]: int(row[1]) for row in rows}
    for phone in phones:
        phone.target = newest.get(phone.member_id, 0)


async def buy(port: int, till: str, phones: list[Phone]) -> None:
    import httpx

    gate = asyncio.Semaphore(20)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:

        async def one(n: int, phone: Phone) -> None:
            async with gate:
                response = await sell(api, till, phone.card, f"storm-{n}")
                assert response.status_code == 201, response.text

        await asyncio.gather(*(one(n, p) for n, p in enumerate(phones)))


async def storm(tree: Path, settings: Any, *, tell: bool) -> Storm:
    admin_url, redis_url = settings.database_url, settings.redis_url
    name = f"astrocoffee_storm_{secrets.token_hex(3)}"
    database_url = await create_database(admin_url, name)
    prefix = f"storm-{secrets.token_hex(3)}:"
    env = bench_env(database_url, redis_url, secret=secrets.token_urlsafe(40), prefix=prefix)
    env["PICCOLO_CONF"] = "db.piccolo_conf"
    process: subprocess.Popen[bytes] | None = None
    phones: list[Phone] = []
    try:
        python = [sys.executable]
        secret_and_size = [env["ASTROCOFFEE_SECRET_KEY"], str(SOCKETS)]
        migrate = [*python, "-m", "backend.cli", "migrate"]
        subprocess.run(migrate, cwd=tree, env=env, check=True, capture_output=True)  # noqa: S603
        seeded = subprocess.run(  # noqa: S603
            [*python, "-c", _SEED, database_url, redis_url, prefix, *secret_and_size],
            cwd=tree,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        data = json.loads(seeded.stdout.strip().splitlines()[-1])
        phones = [Phone(*member) for member in data["members"]]
        port = free_port()
        process = server(tree, env, port)
        await ready(port)
        await connect_all(phones, port, tell=tell)
        if await all_current(phones, time.perf_counter()) < len(phones):
            raise RuntimeError(f"not every socket connected within {TIMEOUT_S:.0f} s")

        process.kill()  # every socket of the process drops at once
        process.wait()
        port = free_port()
        process = server(tree, env, port)
        await ready(port)
        await buy(port, data["till"], phones[:GAP_MEMBERS])  # their streams now have a gap
        await targets(database_url, phones)
        await asyncio.sleep(_STATS_FLUSH_S)
        quiet_from, quiet_at = await transactions(admin_url, name), time.perf_counter()
        await asyncio.sleep(3)
        before, started = await transactions(admin_url, name), time.perf_counter()
        background = (before - quiet_from) / (started - quiet_at)

        await connect_all(phones, port, tell=tell)
        current = await all_current(phones, started, done_at := [])
        current_s = time.perf_counter() - started
        await asyncio.sleep(_STATS_FLUSH_S)
        after, ended = await transactions(admin_url, name), time.perf_counter()
        spent = after - before - background * (ended - started)
        p99 = percentile(done_at, 0.99) if done_at else current_s
        return Storm(spent / SOCKETS, current_s, p99, spent, current)
    finally:
        await asyncio.gather(
            *(p.ws.close() for p in phones if p.ws is not None), return_exceptions=True
        )
        stop(process)
        await drop_database(admin_url, database_url)


async def run(report: BenchReport) -> None:
    settings, _handles = servers()
    with worktree(BEFORE) as before_tree:
        before = await storm(before_tree, settings, tell=False)
    after = await storm(ROOT, settings, tell=True)
    note = (
        f"{SOCKETS} sockets dropped at once (SIGKILL) and reconnected together, "
        f"{GAP_MEMBERS} of their streams with a gap"
    )
    report.figure(
        Figure(
            name="reconnect storm: primary PostgreSQL transactions per reconnect",
            value=after.per_reconnect,
            baseline=before.per_reconnect,
            baseline_name=f"at {BEFORE}",
            at_most=1.0,
            note=f"{note}; {after.transactions:.0f} in all, {before.transactions:.0f} before",
        )
    )
    report.figure(
        Figure(
            name="reconnect storm: time until every socket is current",
            value=after.current_s,
            unit="s",
            baseline=before.current_s,
            baseline_name=f"at {BEFORE}",
            at_most=1.0,
            note=f"p99 {after.p99_s:.2f} s, {before.p99_s:.2f} s before; current by the end: "
            f"{after.current} and {before.current} of {SOCKETS}",
        )
    )
    report += [
        f"Reconnect storm: {note}; the earlier tree ({BEFORE}) with its own client (`resume` "
        "after `ready`), this one with `?last_seq=`; transactions are pg_stat_database's, "
        "less the background rate measured just before (their statistics lag up to 10 s: waited for)."
    ]


def main() -> int:
    return run_bench("storm", run)


if __name__ == "__main__":
    raise SystemExit(main())
