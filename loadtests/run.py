"""Headless Locust run against the scaling targets (``make loadtest``).

    python -m loadtests.run [--users N] [--spawn-rate R] [--duration 5m] [--members N]
                            [--stores S] [--terminals-per-store T] [--no-seed] [--keep-db]

What it does, on the servers the app would use (DATABASE_URL and REDIS_URL, or the embedded
ones when both are unset, through ``backend.servers.ensure_servers``):

1. creates a fresh database for this run (``loadtests.bench_ws.prepare_database``), migrates
   it, and seeds it with ``python -m loadtests.seed`` (a random secret key and Redis prefix of
   its own, so the run never touches anyone's data);
2. starts ``astrocoffee serve`` on a free port of 127.0.0.1 (rate limits raised: every
   simulated phone and till comes from the one address 127.0.0.1);
3. runs ``locust -f loadtests/locustfile.py --headless ...`` as a subprocess (Locust is never
   imported here: it monkey-patches the process with gevent), writing
   ``loadtests/reports/loadtest-<date>.html``, ``-<date>_*.csv``, ``-<date>.json`` and the
   Locust and server logs beside them;
4. reads the JSON (the CSVs lag the final figures) and checks every target of
   ``loadtests/targets.toml``, then runs ``astrocoffee ledger verify`` on the run's database;
5. prints a table (figure, target, measured, met?), writes it to ``-<date>.md``, drops the
   database (``--keep-db`` keeps it) and exits 1 if any target is missed, 2 on an error.

``--no-seed`` runs against the database and Redis prefix of the environment as they are
(seeded earlier with ``python -m loadtests.seed`` under the same ASTROCOFFEE_SECRET_KEY and
ASTROCOFFEE_REDIS_PREFIX, credentials in ``loadtests/.credentials.json``); nothing is dropped.
``--check-only FILE.json`` only checks the targets against an earlier run's JSON.

Distributed Locust (one master, N workers, one command per process; see ``DISTRIBUTED``
below, also printed at the end of every run and by ``make loadtest-distributed``): the
master spreads the users over the workers and adds up their figures; each worker is given
``LOADTEST_WORKERS=N`` so that it signs in as its own share of the members.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import fnmatch
import json
import os
import re
import resource
import secrets
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ROOT / "loadtests" / "targets.toml"
REPORTS = ROOT / "loadtests" / "reports"
CREDENTIALS = ROOT / "loadtests" / ".credentials.json"
LOCUSTFILE = "loadtests/locustfile.py"

DISTRIBUTED = """\
Distributed Locust: one master and N workers, each command in its own terminal (127.0.0.1 only).
  # once: a seeded database and a server that share the secret key and the Redis prefix
  export DATABASE_URL=postgresql://... REDIS_URL=redis://127.0.0.1:6379/0   # or neither: embedded
  export ASTROCOFFEE_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(40))')
  export ASTROCOFFEE_REDIS_PREFIX=lt:
  .venv/bin/astrocoffee migrate
  .venv/bin/python -m loadtests.seed --members 5000 --stores 20 --terminals-per-store 3 \\
      --out loadtests/.credentials.json
  ASTROCOFFEE_AUTH_RATE_LIMIT_PER_MINUTE=1000000 ASTROCOFFEE_POS_RATE_LIMIT_PER_MINUTE=1000000 \\
      .venv/bin/astrocoffee serve --host 127.0.0.1 --port 8000
  # the master (runs no users; waits for N workers, then runs the test)
  .venv/bin/locust -f loadtests/locustfile.py --master --expect-workers 2 --headless \\
      -u 200 -r 50 -t 5m --host http://127.0.0.1:8000 \\
      --html loadtests/reports/distributed.html --json-file loadtests/reports/distributed
  # each worker (here N=2: run this twice, in two terminals)
  LOADTEST_WORKERS=2 .venv/bin/locust -f loadtests/locustfile.py --worker --master-host 127.0.0.1
  # then: the targets, and the ledger
  .venv/bin/python -m loadtests.run --check-only loadtests/reports/distributed.json
  .venv/bin/astrocoffee ledger verify
Workers on other machines need the credentials file and a clock in sync with the server's
(commit-to-client latency compares the server's timestamps with the worker's clock)."""


# --- configuration ----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.run",
        description="Headless Locust run against loadtests/targets.toml.",
        epilog=DISTRIBUTED,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--targets", type=Path, default=TARGETS)
    parser.add_argument("--users", type=int, help="default: [run] users")
    parser.add_argument("--spawn-rate", type=float, help="default: [run] spawn_rate")
    parser.add_argument("--duration", help="locust --run-time, e.g. 60s, 5m (default: [run])")
    parser.add_argument("--members", type=int)
    parser.add_argument("--stores", type=int)
    parser.add_argument("--terminals-per-store", type=int)
    parser.add_argument("--server-workers", type=int)
    parser.add_argument(
        "--reset-stats-after-spawn",
        action=argparse.BooleanOptionalAction,
        help="measure the steady state: Locust's figures restart once every user is spawned "
        "(default: [run] reset_stats_after_spawn; --no-reset-stats-after-spawn counts the ramp)",
    )
    parser.add_argument(
        "--database-pool-max", type=int, help="the server's PostgreSQL pool per worker"
    )
    parser.add_argument(
        "--no-seed",
        action="store_true",
        help="use the environment's database and loadtests/.credentials.json as they are",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the run's database")
    parser.add_argument("--check-only", type=Path, metavar="JSON", help="only check this file")
    parser.add_argument(
        "--distributed-help", action="store_true", help="print how to run distributed"
    )
    return parser.parse_args(argv)


def load_targets(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    run = config["run"]
    for key in (
        "users",
        "spawn_rate",
        "duration",
        "members",
        "stores",
        "terminals_per_store",
        "server_workers",
        "database_pool_max",
        "reset_stats_after_spawn",
    ):
        value = getattr(args, key, None)
        if value is not None:
            run[key] = value
    return config


def seconds(timespan: str) -> int:
    """Locust's run-time syntax: 90, 90s, 5m, 1h30m."""
    if timespan.isdigit():
        return int(timespan)
    parts = re.fullmatch(r"(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?", timespan.strip())
    if not parts or not any(parts.groups()):
        raise ValueError(f"not a duration: {timespan!r} (e.g. 60s, 5m, 1h30m)")
    h, m, s = (int(g or 0) for g in parts.groups())
    return h * 3600 + m * 60 + s


# --- figures from Locust's JSON ---------------------------------------------------------


def percentile(times: dict[int, int], count: int, q: float) -> int:
    """Locust's own percentile over its rounded response-time buckets."""
    wanted = int(count * q)
    processed = 0
    for value in sorted(times, reverse=True):
        processed += times[value]
        if count - processed <= wanted:
            return value
    return 0


def window(stats: list[dict[str, Any]]) -> float:
    """Seconds from the first request of the run to its last (Locust opens an entry at the
    entry's first request, so one entry's own window says little about the run)."""
    starts = [e["start_time"] for e in stats if e.get("start_time")]
    ends = [e["last_request_timestamp"] for e in stats if e.get("last_request_timestamp")]
    return max(0.0, max(ends) - min(starts)) if starts and ends else 0.0


def merged(entries: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    times: dict[int, int] = {}
    for entry in entries:
        for value, count in entry["response_times"].items():
            times[int(float(value))] = times.get(int(float(value)), 0) + count
    requests = sum(e["num_requests"] for e in entries)
    return {
        "requests": requests,
        "failures": sum(e["num_failures"] for e in entries),
        "times": times,
        "timed": sum(times.values()),
        "max": max((e["max_response_time"] or 0 for e in entries), default=0),
        "rps": requests / seconds if seconds > 0 else 0.0,
    }


def label(entry: dict[str, Any]) -> str:
    return f"{entry['method']} {entry['name']}"


def check(stats: list[dict[str, Any]], config: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(figure, target, measured, met) for every target."""
    targets = config["targets"]
    rows = []
    run_s = window(stats)
    total = merged(stats, run_s)
    ratio = total["failures"] / total["requests"] if total["requests"] else 1.0
    limit = float(targets["max_failure_ratio"])
    rows.append(
        (
            "failures: every request, push and socket",
            f"<= {limit:.2%}",
            f"{total['failures']} of {total['requests']} ({ratio:.3%})",
            total["requests"] > 0 and ratio <= limit,
        )
    )
    for figure in targets.get("figure", []):
        chosen = [
            e for e in stats if any(fnmatch.fnmatchcase(label(e), p) for p in figure["match"])
        ]
        figures = merged(chosen, run_s)
        count = figures["timed"]
        if "p99_ms" in figure:
            p99 = percentile(figures["times"], count, 0.99)
            rows.append(
                (
                    f"{figure['name']}: p99",
                    f"<= {figure['p99_ms']} ms",
                    f"{p99} ms (p50 {percentile(figures['times'], count, 0.5)}, "
                    f"max {figures['max']:.0f}; n={count})"
                    if count
                    else "nothing measured",
                    count > 0 and p99 <= float(figure["p99_ms"]),
                )
            )
        if "min_rps" in figure:
            rows.append(
                (
                    f"{figure['name']}: rate",
                    f">= {figure['min_rps']}/s",
                    f"{figures['rps']:.1f}/s ({figures['requests']} in {run_s:.0f} s, ramp-up included)",
                    figures["rps"] >= float(figure["min_rps"]),
                )
            )
    return rows


def request_table(stats: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| type | name | requests | failures | p50 ms | p95 ms | p99 ms | max ms | per s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    run_s = window(stats)
    for entry in sorted(stats, key=lambda e: (e["method"], e["name"])):
        f = merged([entry], run_s)
        n = f["timed"]
        lines.append(
            f"| {entry['method']} | {entry['name']} | {f['requests']} | {f['failures']} | "
            f"{percentile(f['times'], n, 0.5)} | {percentile(f['times'], n, 0.95)} | "
            f"{percentile(f['times'], n, 0.99)} | {f['max']:.0f} | {f['rps']:.1f} |"
        )
    return lines


def failure_lines(prefix: Path) -> list[str]:
    """The most frequent failures, from Locust's failures CSV (written at the end)."""
    path = prefix.with_name(prefix.name + "_failures.csv")
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as file:
        rows = sorted(csv.DictReader(file), key=lambda r: -int(r.get("Occurrences") or 0))
    return [
        f"- {r['Occurrences']} x {r['Method']} {r['Name']}: {r['Error'][:300]}" for r in rows[:15]
    ]


def server_view(port: int, path: str = "/v1/purchases") -> str | None:
    """The server's own histogram of ``POST path`` (its /metrics), to set beside what the
    clients measured: the difference is the time outside the app (network, the client)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    count = total = within_25 = within_50 = 0.0
    for line in text.splitlines():
        if f'path="{path}"' not in line or 'method="POST"' not in line:
            continue
        value = float(line.rsplit(" ", 1)[1])
        if line.startswith("astrocoffee_request_duration_seconds_count"):
            count += value
        elif line.startswith("astrocoffee_request_duration_seconds_sum"):
            total += value
        elif 'le="0.025"' in line:
            within_25 += value
        elif 'le="0.05"' in line:
            within_50 += value
    if not count:
        return None
    return (
        f"server-side view of POST {path} (its /metrics histogram): {count:.0f} requests, "
        f"mean {total / count * 1000:.1f} ms, {within_25 / count:.1%} within 25 ms, "
        f"{within_50 / count:.1%} within 50 ms"
    )


def client_mean(stats: list[dict[str, Any]], names: tuple[str, ...]) -> str:
    chosen = [e for e in stats if e["method"] == "POST" and e["name"] in names]
    count = sum(e["num_requests"] for e in chosen)
    total = sum(e["total_response_time"] for e in chosen)
    return f"client-side mean of the same: {total / count:.1f} ms" if count else ""


def table(rows: list[tuple[str, str, str, bool]]) -> list[str]:
    lines = ["| figure | target | measured | met? |", "| --- | --- | --- | --- |"]
    lines += [f"| {f} | {t} | {m} | {'yes' if ok else 'NO'} |" for f, t, m, ok in rows]
    return lines


# --- running ----------------------------------------------------------------------------


class CpuWatch:
    """Where the machine's CPU went during the Locust run: all processes (anything else
    running on the machine skews the figures: this says how busy it was), the server, Locust.
    PostgreSQL and Redis are the rest."""

    def __init__(self, server_pid: int) -> None:
        import psutil

        self._psutil = psutil
        self._server = psutil.Process(server_pid)
        self._server_start = self._tree(self._server)
        self._machine_start = psutil.cpu_times()
        self._started = time.monotonic()
        self._locust = 0.0
        self._wall = 0.0

    @staticmethod
    def _cpu(process: Any) -> float:
        times = process.cpu_times()
        return float(times.user + times.system + times.children_user + times.children_system)

    def _tree(self, process: Any) -> float:
        """A process and its live children: uvicorn's workers (``children_*`` of
        ``cpu_times`` only counts children already waited for)."""
        total = self._cpu(process)
        for child in process.children(recursive=True):
            with contextlib.suppress(self._psutil.Error):
                total += self._cpu(child)
        return total

    def follow(
        self,
        process: subprocess.Popen[bytes],
        *,
        limit_s: float,
        every_second: Callable[[float], None] | None = None,
    ) -> None:
        """Wait for Locust, sampling its CPU time (unreadable once it has exited); call
        ``every_second`` with the seconds since the start about once a second meanwhile."""
        handle = self._psutil.Process(process.pid)
        while process.poll() is None:
            elapsed = time.monotonic() - self._started
            if elapsed > limit_s:
                print(f"locust ran past {limit_s:.0f} s and was stopped", file=sys.stderr)
                process.terminate()
                process.wait(timeout=30)
                break
            with contextlib.suppress(self._psutil.Error):
                self._locust = self._cpu(handle)
            if every_second is not None:
                every_second(elapsed)
            time.sleep(1)
        self._wall = time.monotonic() - self._started
        self._server_end = self._tree(self._server)
        self._machine_end = self._psutil.cpu_times()

    def summary(self) -> str:
        start, end = self._machine_start, self._machine_end
        total = sum(end) - sum(start)
        idle = (end.idle + getattr(end, "iowait", 0)) - (start.idle + getattr(start, "iowait", 0))
        busy = 1 - idle / total if total else 0.0
        cpus = os.cpu_count() or 1
        wall = self._wall or 1.0
        server = (self._server_end - self._server_start) / wall
        locust = self._locust / wall
        rest = max(0.0, busy * cpus - server - locust)
        return (
            f"CPU during the Locust run ({wall:.0f} s): the machine's {cpus} CPUs were "
            f"{busy:.0%} busy (every process); the server used {server:.0%} of one CPU, "
            f"Locust {locust:.0%}, and {rest:.0%} went to PostgreSQL, Redis and whatever "
            f"else ran on this machine meanwhile."
        )


def wait_ready(port: int, server: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    url = f"http://127.0.0.1:{port}/health/ready"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"astrocoffee serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready within {timeout_s:.0f} s")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def forget_prefix(redis_url: str, prefix: str) -> None:
    """Delete the run's Redis keys (sessions live for weeks otherwise)."""
    from redis import Redis

    client = Redis.from_url(redis_url)
    try:
        batch = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)
    finally:
        client.close()


def ledger_verify(env: dict[str, str]) -> tuple[bool, str]:
    done = subprocess.run(  # noqa: S603 - our own console script
        [str(Path(sys.executable).with_name("astrocoffee")), "ledger", "verify"],
        env={**env, "ASTROCOFFEE_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
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


class SetupError(RuntimeError):
    """The run could not be set up (migrations, seed, server): exit status 2."""


def locust_executable() -> str | None:
    """The venv's ``locust`` (the ``load`` extra), or None with the reason printed."""
    locust = str(Path(sys.executable).with_name("locust"))
    if Path(locust).exists():
        return locust
    print(
        "Locust is not installed in this environment: `make loadtest` and `make soak` "
        "install it (pip install -c constraints.txt -e '.[load]')",
        file=sys.stderr,
    )
    return None


def console_script() -> str:
    return str(Path(sys.executable).with_name("astrocoffee"))


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
    from loadtests.bench_ws import prepare_database

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
        database = asyncio.run(prepare_database(settings.database_url))
        secret = secrets.token_urlsafe(40)
        redis_prefix = f"loadtest-{secrets.token_hex(3)}:"
    env = {
        **os.environ,
        "PICCOLO_CONF": "db.piccolo_conf",
        "DATABASE_URL": database,
        "REDIS_URL": settings.redis_url,
        "ASTROCOFFEE_SECRET_KEY": secret,
        "ASTROCOFFEE_REDIS_PREFIX": redis_prefix,
        "ASTROCOFFEE_LOG_LEVEL": "WARNING",
        "ASTROCOFFEE_AUTH_RATE_LIMIT_PER_MINUTE": "1000000",
        "ASTROCOFFEE_POS_RATE_LIMIT_PER_MINUTE": "1000000",
        **(extra_env or {}),
    }
    stage = Stage(
        database=database,
        redis_url=settings.redis_url,
        redis_prefix=redis_prefix,
        env=env,
        credentials=credentials,
        fresh=not no_seed,
    )
    try:
        migrate = subprocess.run(  # noqa: S603 - our own console script
            [console_script(), "migrate"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if migrate.returncode != 0:
            raise SetupError(f"astrocoffee migrate failed:\n{migrate.stderr[-2000:]}")
        if not no_seed:
            seeded = subprocess.run(  # noqa: S603 - this interpreter
                [
                    sys.executable,
                    "-m",
                    "loadtests.seed",
                    "--members",
                    str(run_cfg["members"]),
                    "--stores",
                    str(run_cfg["stores"]),
                    "--terminals-per-store",
                    str(run_cfg["terminals_per_store"]),
                    "--starting-points",
                    str(run_cfg["starting_points"]),
                    "--out",
                    str(credentials),
                ],
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
    from loadtests.bench_ws import drop_database

    if not stage.fresh:
        return
    if keep:
        print(f"kept the database: {stage.database} (Redis prefix {stage.redis_prefix})")
        return
    asyncio.run(drop_database(settings.database_url, stage.database))
    forget_prefix(stage.redis_url, stage.redis_prefix)


def start_server(
    stage: Stage, *, port: int, workers: int, log_path: Path
) -> subprocess.Popen[bytes]:
    """``astrocoffee serve`` on 127.0.0.1:port, logging to ``log_path``, once ready."""
    with log_path.open("wb") as server_log:
        server = subprocess.Popen(  # noqa: S603 - our own console script
            [
                console_script(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=stage.env,
            cwd=ROOT,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(port, server)
    except BaseException:
        stop(server)
        raise
    return server


def locust_command(
    locust: str, run_cfg: dict[str, Any], *, port: int, prefix_path: Path, log_path: Path
) -> list[str]:
    """Headless Locust writing HTML, CSV and JSON reports beside ``prefix_path``."""
    return [
        locust,
        "-f",
        LOCUSTFILE,
        "--headless",
        "-u",
        str(run_cfg["users"]),
        "-r",
        str(run_cfg["spawn_rate"]),
        "-t",
        str(run_cfg["duration"]),
        "--stop-timeout",
        "10",
        "--host",
        f"http://127.0.0.1:{port}",
        "--html",
        f"{prefix_path}.html",
        "--csv",
        str(prefix_path),
        "--json-file",
        str(prefix_path),
        "--logfile",
        str(log_path),
        # Steady state only: Locust's figures start again once every user is spawned (the
        # spawn is a login and socket storm of its own).
        *(["--reset-stats"] if run_cfg.get("reset_stats_after_spawn") else []),
    ]


def run(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from backend.servers import ensure_servers
    from backend.settings import load_settings
    from loadtests.bench_ws import free_port

    locust = locust_executable()
    if locust is None:
        return 2
    run_cfg = config["run"]
    duration = str(run_cfg["duration"])
    run_s = seconds(duration)
    configured = load_settings()
    embedded = configured.uses_embedded_servers
    settings, handles = ensure_servers(configured)
    assert settings.database_url and settings.redis_url
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S")
    prefix_path = REPORTS / f"loadtest-{stamp}"
    REPORTS.mkdir(parents=True, exist_ok=True)
    server: subprocess.Popen[bytes] | None = None
    port = free_port()
    weights = run_cfg["weights"]
    mobile = run_cfg["users"] * weights["MobileMember"] / sum(weights.values())
    setup = (
        f"{run_cfg['users']} users (weights {', '.join(f'{k} {v}' for k, v in weights.items())}), "
        f"spawn rate {run_cfg['spawn_rate']}/s, {duration}; {run_cfg['members']} members, "
        f"{run_cfg['stores']} stores x {run_cfg['terminals_per_store']} terminals; "
        f"{run_cfg['server_workers']} server worker(s); "
        f"{'figures after the spawn' if run_cfg.get('reset_stats_after_spawn') else 'figures include the spawn'}; "
        f"{'embedded' if embedded else 'external'} PostgreSQL and Redis; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    )
    print(f"load test {stamp}: {setup}", flush=True)
    if mobile > run_cfg["members"]:
        print(f"warning: ~{mobile:.0f} MobileMember users but {run_cfg['members']} members")
    try:
        stage = prepare_stage(settings, run_cfg, no_seed=args.no_seed)
    except SetupError as exc:
        print(f"loadtests.run: {exc}", file=sys.stderr)
        return 2
    env = stage.env
    # 40 came from the phase-locked load of constant_throughput, under which the default 10
    # starved 200 users; with Poisson arrivals 10 also meets every target (2-minute run).
    env["DATABASE_POOL_MAX"] = str(run_cfg.get("database_pool_max", 10))
    # Opened at start, as a server expecting this load would be set up: grown on demand, the
    # pool made its connections (~60 ms each) during the spawn, while 200 users arrived.
    env["DATABASE_POOL_MIN"] = env["DATABASE_POOL_MAX"]
    try:
        server = start_server(
            stage,
            port=port,
            workers=run_cfg["server_workers"],
            log_path=prefix_path.with_name(prefix_path.name + "-server.log"),
        )
        locust_log = prefix_path.with_name(prefix_path.name + "-locust.log")
        command = locust_command(
            locust, run_cfg, port=port, prefix_path=prefix_path, log_path=locust_log
        )
        live = locust_log.with_suffix(".out")
        print(f"running: {' '.join(command)}", flush=True)
        print(f"for {duration}; live figures: tail -f {live.relative_to(ROOT)}", flush=True)
        with live.open("wb") as output:
            watch = CpuWatch(server.pid)
            # Its exit status is non-zero whenever anything failed: the table says what.
            runner = subprocess.Popen(  # noqa: S603 - the venv's locust
                command,
                env={
                    **env,
                    "LOADTEST_CREDENTIALS": str(stage.credentials),
                    "LOADTEST_TARGETS": str(args.targets.resolve()),
                },
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            watch.follow(runner, limit_s=run_s + 180)
        server_side = server_view(port)
        cpu = watch.summary()
        stop(server)
        server = None
        json_path = Path(f"{prefix_path}.json")
        if not json_path.exists():
            print(f"locust wrote no {json_path}; see {locust_log}", file=sys.stderr)
            return 2
        stats = json.loads(json_path.read_text(encoding="utf-8"))
        rows = check(stats, config)
        verified, detail = ledger_verify(env)
        rows.append(("ledger verify on the run's database", "0 mismatches", detail, verified))
        notes = [setup, cpu]
        if server_side:
            notes.append(
                f"{server_side}; "
                + client_mean(stats, ("/v1/purchases", "/v1/purchases (redeem)"))
                + "."
            )
        return report(stats, rows, prefix_path, header=f"run of {stamp}", notes=notes)
    finally:
        stop(server)
        clean_up(settings, stage, keep=args.keep_db)
        del handles


def report(
    stats: list[dict[str, Any]],
    rows: list[tuple[str, str, str, bool]],
    prefix_path: Path,
    *,
    header: str,
    notes: list[str] | None = None,
    out: Path | None = None,
) -> int:
    met = all(ok for *_, ok in rows)
    failures = failure_lines(prefix_path)
    lines = [
        f"# Load test against loadtests/targets.toml ({header})",
        "",
        *(f"{note}\n" for note in notes or ()),
        *table(rows),
        "",
        f"**{'Every target met.' if met else 'Targets missed: ' + str(sum(not r[3] for r in rows)) + ' of ' + str(len(rows)) + '.'}**",
        "",
        "## Requests, pushes and sockets",
        "",
        *request_table(stats),
    ]
    if failures:
        lines += [
            "",
            "## Most frequent failures (Locust's CSV, may miss the last second)",
            "",
            *failures,
        ]
    text = "\n".join(lines) + "\n"
    prefix_path.parent.mkdir(parents=True, exist_ok=True)
    out = out or prefix_path.with_name(prefix_path.name + ".md")
    out.write_text(text, encoding="utf-8")
    print()
    print(text)
    for suffix in (".md", ".html", ".json", "_stats.csv", "-locust.log", "-server.log"):
        path = prefix_path.with_name(prefix_path.name + suffix)
        if path.exists():
            print(f"written: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print()
    print(DISTRIBUTED)
    return 0 if met else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.distributed_help:
        print(DISTRIBUTED)
        return 0
    config = load_targets(args.targets, args)
    if args.check_only is not None:
        stats = json.loads(args.check_only.read_text(encoding="utf-8"))
        prefix = args.check_only.with_suffix("")
        return report(
            stats,
            check(stats, config),
            prefix,
            header=str(args.check_only),
            out=prefix.with_name(prefix.name + "-check.md"),
        )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    os.environ.setdefault("PICCOLO_CONF", "db.piccolo_conf")
    return run(args, config)


if __name__ == "__main__":
    raise SystemExit(main())
