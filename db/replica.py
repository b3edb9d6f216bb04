"""The read replica: how far it trails the primary, and whether lag-tolerant reads go there.

A watcher samples the lag every ``ASTROCOFFEE_REPLICA_LAG_SAMPLE_SECONDS`` (1) in each process,
never per request: it reads the primary's flushed WAL position, then the replica's replayed
one. The replica holds everything the primary had at the newest sample whose position it has
replayed, so its lag is the time since that sample (0 when it holds the one just taken). An
idle primary therefore reads as 0 lag (``now() - pg_last_xact_replay_timestamp()`` would
grow while nothing happens), and a replica cut off from the primary reads as lagging (its own
receive and replay positions would agree and look current).

Lag-tolerant reads (``lagging_node``) go to the replica only while its last sample succeeded
and its lag is at most ``ASTROCOFFEE_REPLICA_MAX_LAG_SECONDS`` (5); otherwise to the primary.
A read that fails on the replica for a connection reason (``read_lagging``) is run again on
the primary and marks the replica unusable until a sample succeeds again: a replica that is
down costs one failed attempt, never an error answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from piccolo.engine.postgres import PostgresEngine

from db.periodic import Periodic
from db.pgbouncer import connection_config

log = logging.getLogger(__name__)

T = TypeVar("T")

# The replica's name among the engine's ``extra_nodes`` (``db.piccolo_conf``).
REPLICA = "replica"
MAX_LAG_ENV = "ASTROCOFFEE_REPLICA_MAX_LAG_SECONDS"
SAMPLE_ENV = "ASTROCOFFEE_REPLICA_LAG_SAMPLE_SECONDS"

# What a read on the replica may meet when the replica, not the read, is the trouble: no
# connection (refused, reset, timed out), the server shutting down or starting (57xxx), a
# query cancelled by a conflict with recovery (40001). A read is safe to run again.
REPLICA_TROUBLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.SerializationError,
    asyncpg.InterfaceError,
)

_PRIMARY_POSITION = "SELECT pg_current_wal_flush_lsn()::text"
# A node that is not in recovery is a primary (DATABASE_REPLICA_URL pointed at the primary
# while a replica is rebuilt): it holds everything.
_REPLAYED_POSITION = (
    "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_flush_lsn() END)::text"
)


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if value <= 0:
        raise RuntimeError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value


@dataclass(frozen=True, slots=True)
class ReplicaState:
    reachable: bool  # its last sample (or read) succeeded
    lag_s: float | None  # None: not known yet
    max_lag_s: float

    @property
    def serves_reads(self) -> bool:
        return self.reachable and self.lag_s is not None and self.lag_s <= self.max_lag_s


async def _position(node: PostgresEngine, query: str) -> int:
    if node.pool is None:
        connection = await node.get_new_connection()
        try:
            return _lsn(await connection.fetchval(query))
        finally:
            await connection.close()
    async with node.pool.acquire() as connection:
        return _lsn(await connection.fetchval(query))


class ReplicaWatch:
    """Samples one replica's lag against its primary (see the module's description)."""

    def __init__(
        self,
        *,
        primary: PostgresEngine,
        replica: PostgresEngine,
        max_lag_s: float,
        interval_s: float,
    ) -> None:
        self.replica = replica
        self._primary = primary
        self.max_lag_s = max_lag_s
        self.interval_s = interval_s
        self._reachable = False
        # (monotonic time, primary position) of recent samples the replica had not replayed
        # yet, and the newest one it had (its time is what the replica is current as of).
        # Bounded: past it, the oldest are dropped, which can only overstate the lag.
        self._pending: deque[tuple[float, int]] = deque(maxlen=3600)
        self._current_as_of: float | None = None
        self._every = Periodic(self.sample, interval_s=interval_s, name="replica-lag")

    @property
    def state(self) -> ReplicaState:
        lag = None if self._current_as_of is None else self._lag(time.monotonic())
        return ReplicaState(reachable=self._reachable, lag_s=lag, max_lag_s=self.max_lag_s)

    def _lag(self, now: float) -> float:
        assert self._current_as_of is not None
        # Current as of the newest sample it replayed; when that is the newest sample taken,
        # nothing is known to be missing. Under steady writes the newest is often a few
        # milliseconds ahead, so the figure is an upper bound, to within one interval.
        return 0.0 if not self._pending else now - self._current_as_of

    async def sample(self) -> ReplicaState:
        timeout = max(self.interval_s, 2.0)
        taken_at = time.monotonic()
        try:
            primary = await asyncio.wait_for(_position(self._primary, _PRIMARY_POSITION), timeout)
        except REPLICA_TROUBLE:
            # The primary's own trouble is readiness's business; keep the last figures.
            return self.state
        self._pending.append((taken_at, primary))
        try:
            replayed = await asyncio.wait_for(_position(self.replica, _REPLAYED_POSITION), timeout)
        except REPLICA_TROUBLE as exc:
            self.failed(exc)
            return self.state
        self._reachable = True
        while self._pending and self._pending[0][1] <= replayed:
            self._current_as_of = self._pending.popleft()[0]
        return self.state

    def failed(self, exc: BaseException) -> None:
        if self._reachable:
            log.warning("read replica unreachable, reading from the primary: %r", exc)
        self._reachable = False

    async def start(self) -> None:
        """A first sample before anything reads (a replica that is down delays this by its
        connect timeout, 2 s, at most), so that a process, a CLI command too, reads from a
        replica that is fine from its first read; then one every interval."""
        await self._every.call_safely()
        self._every.start()

    async def stop(self) -> None:
        await self._every.stop()


_watch: ReplicaWatch | None = None


def current_watch() -> ReplicaWatch | None:
    return _watch


def lagging_node() -> str | None:
    """``REPLICA`` while the replica serves lag-tolerant reads, else None (the primary)."""
    return REPLICA if _watch is not None and _watch.state.serves_reads else None


async def start_watching(*, primary: PostgresEngine, replica: PostgresEngine) -> None:
    global _watch
    _watch = ReplicaWatch(
        primary=primary,
        replica=replica,
        max_lag_s=_seconds(MAX_LAG_ENV, 5.0),
        interval_s=_seconds(SAMPLE_ENV, 1.0),
    )
    await _watch.start()


async def stop_watching() -> None:
    global _watch
    if _watch is not None:
        await _watch.stop()
        _watch = None


@contextlib.asynccontextmanager
async def watching(watch: ReplicaWatch) -> AsyncIterator[ReplicaWatch]:
    """``watch`` as the process's watcher for a while (tests start one on a replica of
    their own), then none again."""
    global _watch
    previous, _watch = _watch, watch
    await watch.start()
    try:
        yield watch
    finally:
        await watch.stop()
        _watch = previous


async def read_lagging(read: Callable[[str | None], Awaitable[T]]) -> T:
    """``read(node)`` on the replica while it serves lag-tolerant reads, else on the primary
    (node None); a read the replica fails for a connection reason runs on the primary."""
    node = lagging_node()
    if node is None:
        return await read(None)
    try:
        return await read(node)
    except REPLICA_TROUBLE as exc:
        if _watch is not None:
            _watch.failed(exc)
        return await read(None)


def replica_engine(
    *, dsn: str, command_timeout: float, pgbouncer: bool = False, **extra: Any
) -> PostgresEngine:
    """The replica's node: read-only sessions, so that a write sent there by mistake fails
    loudly instead of diverging; named, so that its sessions are told apart in
    ``pg_stat_activity``; a short connect timeout, so that a replica that went away costs
    a read two seconds at most before it runs on the primary. Behind PgBouncer
    (``pgbouncer``), which refuses the read-only startup parameter, the standby's own
    recovery mode refuses the write (``db.pgbouncer``)."""
    config = connection_config(
        dsn=dsn,
        command_timeout=command_timeout,
        pgbouncer=pgbouncer,
        server_settings={
            "default_transaction_read_only": "on",
            "application_name": "astrocoffee-replica-reads",
        },
    )
    return PostgresEngine(config={**config, "timeout": 2.0, **extra})
