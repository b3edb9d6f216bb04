"""Headless Locust run against the scaling targets (``make loadtest``).

    python -m loadtests.run [--users N] [--spawn-rate R] [--duration 5m] [--members N]
                            [--stores S] [--terminals-per-store T] [--no-seed [--credentials F]]
                            [--keep-db]

What it does, on the servers the app would use (DATABASE_URL and REDIS_URL, or the embedded
ones when both are unset, through ``backend.servers.ensure_servers``):

1. creates a fresh database for this run (``loadtests.stage``, on ``devkit.databases``),
   migrates it, and seeds it with ``python -m loadtests.seed`` (a random secret key and Redis
   prefix of its own, so the run never touches anyone's data);
2. starts ``astrocoffee serve`` on a free port of 127.0.0.1 (rate limits raised: every
   simulated phone and till comes from the one address 127.0.0.1);
3. runs ``locust -f loadtests/locustfile.py --headless ...`` as a subprocess
   (``loadtests.locust_cli``; Locust is never imported here: it monkey-patches the process
   with gevent), writing ``loadtests/reports/loadtest-<date>.html``, ``-<date>_*.csv``,
   ``-<date>.json`` and the Locust and server logs beside them, while ``loadtests.cpu``
   watches where the CPU goes;
4. reads the JSON (the CSVs lag the final figures; ``loadtests.figures``) and checks every
   target of ``loadtests/targets.toml`` (``loadtests.targets``), then runs ``astrocoffee ledger
   verify`` on the run's database;
5. prints a table (figure, target, measured, met?), writes it to ``-<date>.md``
   (``loadtests.report``), drops the database (``--keep-db`` keeps it) and exits 1 if any
   target is missed, 2 on an error.

``--no-seed`` runs against the database and Redis prefix of the environment as they are
(seeded earlier with ``python -m loadtests.seed`` under the same ASTROCOFFEE_SECRET_KEY and
ASTROCOFFEE_REDIS_PREFIX, credentials in ``loadtests/.credentials.json``); nothing is dropped.
``--check-only FILE.json`` only checks the targets against an earlier run's JSON.

Distributed Locust (one master, N workers, one command per process; see
``loadtests.locust_cli.DISTRIBUTED``, also printed at the end of every run and by ``make
loadtest-distributed``): the master spreads the users over the workers and adds up their
figures; each worker is given ``LOADTEST_WORKERS=N`` so that it signs in as its own share of
the members.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devkit.ports import free_port
from devkit.processes import AppProcess, raise_open_files_limit
from loadtests.figures import client_mean, read_stats, server_view, window
from loadtests.intervals import minute_lines
from loadtests.locust_cli import DISTRIBUTED, locust_command, locust_executable, run_locust
from loadtests.report import REPORTS, report
from loadtests.seed import DEFAULT_OUT as CREDENTIALS
from loadtests.stage import (
    SetupError,
    autovacuum_note,
    clean_up,
    ledger_verify,
    prepare_stage,
    start_server,
)
from loadtests.targets import TARGETS, check, load_targets, seconds


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
    parser.add_argument(
        "--credentials",
        type=Path,
        default=CREDENTIALS,
        help="with --no-seed: the seed's output for the environment's database (e.g. a 1M-member "
        "chain seeded with python -m loadtests.seed --history --members 1000000 --out FILE)",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the run's database")
    parser.add_argument("--check-only", type=Path, metavar="JSON", help="only check this file")
    parser.add_argument(
        "--distributed-help", action="store_true", help="print how to run distributed"
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from backend.servers import ensure_servers
    from backend.settings import load_settings

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
    server: AppProcess | None = None
    port = free_port()
    weights = run_cfg["weights"]
    mobile = run_cfg["users"] * weights["MobileMember"] / sum(weights.values())
    setup = (
        f"{run_cfg['users']} users (weights {', '.join(f'{k} {v}' for k, v in weights.items())}), "
        f"spawn rate {run_cfg['spawn_rate']}/s, {duration}; "
        + (
            f"the environment's database as seeded ({args.credentials.name}); "
            if args.no_seed
            else f"{run_cfg['members']} members, "
            f"{run_cfg['stores']} stores x {run_cfg['terminals_per_store']} terminals; "
        )
        + f"{run_cfg['server_workers']} server worker(s); "
        f"{'figures after the spawn' if run_cfg.get('reset_stats_after_spawn') else 'figures include the spawn'}; "
        f"{'embedded' if embedded else 'external'} PostgreSQL and Redis"
        f" ({autovacuum_note(settings.database_url)}); {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    )
    print(f"load test {stamp}: {setup}", flush=True)
    if mobile > run_cfg["members"]:
        print(f"warning: ~{mobile:.0f} MobileMember users but {run_cfg['members']} members")
    try:
        stage = prepare_stage(settings, run_cfg, no_seed=args.no_seed, credentials=args.credentials)
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
        watch = run_locust(
            locust_command(
                locust, run_cfg, port=port, prefix_path=prefix_path, log_path=locust_log
            ),
            {
                **env,
                "LOADTEST_CREDENTIALS": str(stage.credentials),
                "LOADTEST_TARGETS": str(args.targets.resolve()),
            },
            log_path=locust_log,
            server_pid=server.pid,
            limit_s=run_s + 180,
            how_long=f"for {duration}; ",
        )
        server_side = server_view(port)
        cpu = watch.summary()
        server.stop(timeout_s=30)
        server = None
        stats = read_stats(prefix_path, locust_log)
        if stats is None:
            return 2
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
        return report(
            stats,
            rows,
            prefix_path,
            header=f"run of {stamp}",
            notes=notes,
            minutes=minute_lines(prefix_path, config, window(stats)),
        )
    finally:
        if server is not None:
            server.stop(timeout_s=30)
        clean_up(settings, stage, keep=args.keep_db)
        del handles


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
            minutes=minute_lines(prefix, config, window(stats)),
            out=prefix.with_name(prefix.name + "-check.md"),
        )
    raise_open_files_limit()
    os.environ.setdefault("PICCOLO_CONF", "db.piccolo_conf")
    return run(args, config)


if __name__ == "__main__":
    raise SystemExit(main())
