"""What the benches (``make bench``: ``bench_ws``, ``bench_campaigns``, ``bench_purchases``)
share: one ``astrocoffee serve`` on a fresh database of its own, seeded in bulk
(``devkit.seed``), percentiles of raw samples, and running the parts with their one table of
figures (``bench_report``). The load tests' stage (``loadtests.stage``) takes its fresh
database and its server's environment (``server_env``) from here too. Only ever targets
127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import secrets
import traceback
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devkit.databases import create_database, drop_database
from devkit.processes import ROOT, AppProcess, astrocoffee, raise_open_files_limit
from devkit.seed import Seeded, seed
from loadtests.bench_report import BenchReport, Figure, Scorecard

if TYPE_CHECKING:
    import httpx


async def sell(
    api: httpx.AsyncClient, till_key: str, card_number: str, receipt: str, **extra: Any
) -> httpx.Response:
    """One 350-rouble sale to ``card_number`` at the till of ``till_key`` (``extra``: more of
    its body); ``receipt`` is both its external id and its idempotency key."""
    body = {
        "customer": {"card_number": card_number},
        "external_id": receipt,
        "amount": 35000,
        "currency": "RUB",
        **extra,
    }
    headers = {"X-Api-Key": till_key, "Idempotency-Key": receipt}
    return await api.post("/v1/purchases", json=body, headers=headers)


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
    """One `astrocoffee serve` on a fresh database of its own (``app``: its process, port
    and pid)."""

    app: AppProcess
    database_url: str
    redis_url: str
    secret: str
    prefix: str

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


def server_env(
    database_url: str, redis_url: str, *, secret: str, prefix: str, **settings: str
) -> dict[str, str]:
    """The environment of a server under load from one address (a bench's or a load test's):
    the caller's with these servers, secret key and Redis prefix, warnings only and the login
    limit lifted; ``settings`` adds or overrides settings."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ASTROCOFFEE_SECRET_KEY": secret,
        "ASTROCOFFEE_REDIS_PREFIX": prefix,
        "ASTROCOFFEE_LOG_LEVEL": "WARNING",
        "ASTROCOFFEE_AUTH_RATE_LIMIT_PER_MINUTE": "1000000",
        **settings,
    }


def bench_env(
    database_url: str, redis_url: str, *, secret: str, prefix: str, **extra_env: str
) -> dict[str, str]:
    """A bench server's environment: ``server_env`` with the tills' limit lifted too and no
    maintenance in the serving process; ``extra_env`` adds settings."""
    bench_settings = {
        "ASTROCOFFEE_MAINTENANCE_INTERVAL_S": "0",
        "ASTROCOFFEE_POS_RATE_LIMIT_PER_MINUTE": "100000000",
    }
    return server_env(
        database_url, redis_url, secret=secret, prefix=prefix, **bench_settings | extra_env
    )


@asynccontextmanager
async def bench_server(settings: Any, **extra_env: str) -> AsyncIterator[BenchServer]:
    """Migrate a fresh database and serve it with one process, ready when this yields
    (production-like settings, limits lifted: the load comes from one address;
    ``extra_env`` adds settings); stopped, and the database dropped, after."""
    admin_url = settings.database_url
    database_url = await fresh_database(admin_url)
    # For Piccolo in this process (bench_campaigns); put back after, for the next part's servers.
    earlier_url = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = database_url
    secret = secrets.token_urlsafe(40)
    prefix = f"bench-{secrets.token_hex(3)}:"
    env = bench_env(database_url, settings.redis_url, secret=secret, prefix=prefix, **extra_env)
    try:
        migrate = await asyncio.to_thread(astrocoffee, "migrate", env=env)
        assert migrate.returncode == 0, migrate.stderr
        async with AppProcess.serve(env) as app:
            await app.ready()
            yield BenchServer(app, database_url, settings.redis_url, secret, prefix)
    finally:
        if earlier_url is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = earlier_url
        await drop_database(admin_url, database_url)


def run_bench(name: str, run: Callable[[BenchReport], Coroutine[Any, Any, None]]) -> int:
    """``make bench``'s part ``name`` on its own (``python -m loadtests.bench_<name>``): ``run``
    fills the report's lines and figures; written to ``loadtests/reports/bench-<time>.md``
    and ``.json`` with the table of its figures, and printed; 1 when a target is missed.
    With ``BENCH_PART_OUT`` set (``loadtests.bench`` runs each part in a process of its own:
    the ORM's engine and the environment are per process), the report goes to that file."""
    card = Scorecard()
    card.parts[name] = run_part(name, run)
    out = os.environ.get("BENCH_PART_OUT")
    if out:
        Path(out).write_text(card.parts[name].to_json(), encoding="utf-8")
        return 0
    return finish(card)


def run_part(name: str, run: Callable[[BenchReport], Coroutine[Any, Any, None]]) -> BenchReport:
    """Run one part; one that fails is a missed row of its own."""
    raise_open_files_limit()
    os.environ.setdefault("PICCOLO_CONF", "db.piccolo_conf")
    report = BenchReport()
    try:
        asyncio.run(run(report))
    except Exception as exc:  # the table says which part failed
        traceback.print_exc()
        report.figure(Figure(name=f"{name}: the part failed ({exc!r})", value=0, at_least=1))
    return report


def finish(card: Scorecard) -> int:
    """Print and keep the one table of every part's figures; the exit status (1: a target
    missed)."""
    load = os.getloadavg()
    context = [
        f"Machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / "
        f"{load[2]:.2f} at the end (other work on the machine skews every figure). Parts: "
        f"{', '.join(card.parts)}."
    ]
    as_json, markdown, summary = card.write(context=context)
    for name, part in card.parts.items():
        print(f"\n## {name}\n")
        print("\n".join(part))
    print()
    print(summary)
    print(f"written to {markdown.relative_to(ROOT)} and {as_json.relative_to(ROOT)}")
    return 1 if card.missed else 0
