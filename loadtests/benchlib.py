"""What the benches (``make bench``: ``bench_ws``, ``bench_campaigns``, ``bench_purchases``)
share: one ``astrocoffee serve`` on a fresh database of its own, seeded in bulk
(``devkit.seed``), percentiles of raw samples, and the report written to
``loadtests/reports/bench-<name>-<date>.md``. Only ever targets 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devkit.databases import create_database, drop_database
from devkit.processes import ROOT, AppProcess, astrocoffee, raise_open_files_limit
from devkit.seed import Seeded, seed

REPORTS = ROOT / "loadtests" / "reports"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def servers() -> tuple[Any, tuple[Any, ...]]:
    """The settings with the servers' URLs (the embedded ones started if both are unset)
    and the handles that keep those alive."""
    from backend.servers import ensure_servers
    from backend.settings import load_settings

    settings, handles = ensure_servers(load_settings())
    assert settings.database_url and settings.redis_url
    return settings, handles


async def fresh_database(admin_url: str) -> str:
    """A new, empty database on the server of ``admin_url``; its URL."""
    return await create_database(admin_url, f"astrocoffee_bench_{secrets.token_hex(3)}")


@dataclass
class BenchServer:
    """One `astrocoffee serve` on a fresh database of its own."""

    app: AppProcess
    database_url: str
    redis_url: str
    secret: str
    prefix: str

    @property
    def port(self) -> int:
        return self.app.port

    @property
    def pid(self) -> int:
        return self.app.pid

    async def seed(self, members: int, *, stores: int = 1) -> Seeded:
        """``stores`` stores with a till each and ``members`` members with a login session
        each (tokens valid for an hour)."""
        return await seed(
            self.database_url,
            self.redis_url,
            redis_prefix=self.prefix,
            secret_key=self.secret,
            members=members,
            stores=stores,
            store_name="Bench store",
            token_ttl_s=3600,
            device="bench",
        )


@asynccontextmanager
async def bench_server(settings: Any, **extra_env: str) -> AsyncIterator[BenchServer]:
    """Migrate a fresh database and serve it with one process, ready when this yields
    (production-like settings, limits lifted: the load comes from one address;
    ``extra_env`` adds settings); stopped, and the database dropped, after."""
    admin_url = settings.database_url
    database_url = await fresh_database(admin_url)
    os.environ["DATABASE_URL"] = database_url  # for Piccolo in this process (bench_campaigns)
    secret = secrets.token_urlsafe(40)
    prefix = f"bench-{secrets.token_hex(3)}:"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.redis_url,
        "ASTROCOFFEE_SECRET_KEY": secret,
        "ASTROCOFFEE_REDIS_PREFIX": prefix,
        "ASTROCOFFEE_LOG_LEVEL": "WARNING",
        "ASTROCOFFEE_MAINTENANCE_INTERVAL_S": "0",
        "ASTROCOFFEE_AUTH_RATE_LIMIT_PER_MINUTE": "1000000",
        "ASTROCOFFEE_POS_RATE_LIMIT_PER_MINUTE": "100000000",
        **extra_env,
    }
    try:
        migrate = await asyncio.to_thread(astrocoffee, "migrate", env=env)
        assert migrate.returncode == 0, migrate.stderr
        async with AppProcess.serve(env) as app:
            await app.ready()
            yield BenchServer(app, database_url, settings.redis_url, secret, prefix)
    finally:
        await drop_database(admin_url, database_url)


def run_bench(name: str, run: Callable[[list[str]], Coroutine[Any, Any, None]]) -> int:
    """``make bench``'s part ``name``: ``run`` fills the report's lines, written to
    ``loadtests/reports/bench-<name>-<date>.md`` and printed."""
    raise_open_files_limit()
    os.environ.setdefault("PICCOLO_CONF", "db.piccolo_conf")
    report: list[str] = []
    asyncio.run(run(report))
    text = "\n".join(report) + "\n"
    out = REPORTS / f"bench-{name}-{datetime.now(UTC):%Y-%m-%d}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"written to {out.relative_to(ROOT)}")
    return 0
