"""The stage of one load test or soak: a fresh database and Redis prefix (or, with
``no_seed``, the environment's), migrated and seeded, the environment that the server, the
seed, Locust and ``ledger verify`` share, and the ``astrocoffee serve`` process on it."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from devkit.databases import drop_database, forget_prefix
from devkit.processes import ROOT, AppProcess, astrocoffee
from loadtests.benchlib import fresh_database, server_env
from loadtests.seed import DEFAULT_OUT as CREDENTIALS


class SetupError(RuntimeError):
    """The run could not be set up (migrations, seed, server): exit status 2."""


@dataclass
class Stage:
    """The database and Redis prefix of one run, migrated and seeded, and the environment
    that the server, the seed, Locust and ``ledger verify`` share."""

    database: str
    redis_url: str
    redis_prefix: str
    env: dict[str, str]
    credentials: Path
    fresh: bool  # made for this run: dropped, and its Redis keys deleted, by clean_up()


def prepare_stage(
    settings: Any,
    run_cfg: dict[str, Any],
    *,
    no_seed: bool = False,
    credentials: Path = CREDENTIALS,
    extra_env: dict[str, str] | None = None,
) -> Stage:
    """A fresh database (or, with ``no_seed``, the environment's), migrated and seeded, with
    a secret key and Redis prefix of its own. Raises SetupError; nothing is left behind then."""
    assert settings.database_url and settings.redis_url
    if no_seed:
        if not credentials.exists():
            raise SetupError(f"--no-seed needs {credentials}")
        database, secret, redis_prefix = (
            settings.database_url,
            settings.secret_key,
            settings.redis_prefix,
        )
    else:
        database = asyncio.run(fresh_database(settings.database_url))
        secret = secrets.token_urlsafe(40)
        redis_prefix = f"loadtest-{secrets.token_hex(3)}:"
    stage_settings = {
        "PICCOLO_CONF": "db.piccolo_conf",
        "ASTROCOFFEE_POS_RATE_LIMIT_PER_MINUTE": "1000000",
    }
    env = server_env(
        database,
        settings.redis_url,
        secret=secret,
        prefix=redis_prefix,
        **stage_settings | (extra_env or {}),
    )
    stage = Stage(
        database=database,
        redis_url=settings.redis_url,
        redis_prefix=redis_prefix,
        env=env,
        credentials=credentials,
        fresh=not no_seed,
    )
    try:
        migrate = astrocoffee("migrate", env=env, timeout_s=300)
        if migrate.returncode != 0:
            raise SetupError(f"astrocoffee migrate failed:\n{migrate.stderr[-2000:]}")
        if not no_seed:
            # --members N --stores N --terminals-per-store N --starting-points N, from [run]
            sizes = [
                arg
                for key in ("members", "stores", "terminals_per_store", "starting_points")
                for arg in (f"--{key.replace('_', '-')}", str(run_cfg[key]))
            ]
            seeded = subprocess.run(  # noqa: S603 - this interpreter
                [sys.executable, "-m", "loadtests.seed", *sizes, "--out", str(credentials)],
                env=env,
                cwd=ROOT,
                timeout=600,
                check=False,
            )
            if seeded.returncode != 0:
                raise SetupError(f"python -m loadtests.seed exited with {seeded.returncode}")
    except BaseException:
        clean_up(settings, stage)
        raise
    return stage


def clean_up(settings: Any, stage: Stage, *, keep: bool = False) -> None:
    """Drop a fresh stage's database and Redis keys (``keep``: say where they are)."""
    if not stage.fresh:
        return
    if keep:
        print(f"kept the database: {stage.database} (Redis prefix {stage.redis_prefix})")
        return
    asyncio.run(drop_database(settings.database_url, stage.database))
    forget_prefix(stage.redis_url, stage.redis_prefix)


def start_server(stage: Stage, *, port: int, workers: int, log_path: Path) -> AppProcess:
    """``astrocoffee serve`` on 127.0.0.1:port, logging to ``log_path``, once ready (else
    ``devkit.processes.NotReady``, a RuntimeError, and it is stopped)."""
    server = AppProcess.serve(
        stage.env, "--host", "127.0.0.1", "--workers", str(workers), log=log_path, port=port
    )
    try:
        server.wait_ready(timeout_s=90)
    except BaseException:
        server.stop(timeout_s=30)
        raise
    return server


def ledger_verify(env: dict[str, str]) -> tuple[bool, str]:
    """``astrocoffee ledger verify`` on the stage's database: (clean?, its summary)."""
    done = astrocoffee(
        "ledger", "verify", env={**env, "ASTROCOFFEE_LOG_LEVEL": "WARNING"}, timeout_s=600
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = next((ln for ln in reversed(lines) if ln.startswith("ledger verify:")), None)
    if summary is None:
        return False, f"exit {done.returncode}: {(done.stderr or done.stdout)[-300:]}"
    mismatches = [ln for ln in lines if ln.startswith("MISMATCH")]
    detail = summary.removeprefix("ledger verify: ")
    if mismatches:
        detail += "; first: " + mismatches[0][:200]
    return done.returncode == 0, detail


def autovacuum_note(database_url: str) -> str:
    """What the report should say of the server's autovacuum: production runs it; without it
    no table of the run is ever analyzed, so plans made while the tables were empty stay
    (this machine's PostgreSQL has it off in its conf.d)."""

    async def setting() -> str:
        connection = await asyncpg.connect(database_url)
        try:
            return str(await connection.fetchval("SHOW autovacuum"))
        finally:
            await connection.close()

    on = asyncio.run(setting()) == "on"
    return "autovacuum on" if on else "autovacuum OFF (no table is analyzed during the run)"
