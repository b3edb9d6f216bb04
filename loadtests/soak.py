"""Soak test (``make soak``): the Locust mix with connection churn, and a leak check.

    python -m loadtests.soak [--duration 10m] [--users N] [--warmup 60s] [--interval 60s]
                             [--churn-s 60] [--till-drop 0.05] [--push-deadline-ms 10000]
                             [--members N] [--keep-db]

Every flag has an environment default, so that ``make soak SOAK_DURATION=3m`` works:
SOAK_DURATION (10m), SOAK_USERS (40), SOAK_WARMUP (60s),
SOAK_INTERVAL (60s), SOAK_CHURN_S (60), SOAK_TILL_DROP (0.05), SOAK_PUSH_DEADLINE_MS (10000).

What it does, with the machinery of ``make loadtest`` (``loadtests.stage``, ``.locust_cli``, ...):

1. a fresh database and Redis prefix, migrated and seeded (``loadtests.seed``; the
   credentials go to a temporary file, not to ``loadtests/.credentials.json``), and one
   ``astrocoffee serve`` started with a development one-time code so that phones can log in
   again (``ASTROCOFFEE_DEV_OTP_CODE``, random per run; codes per phone not limited);
2. a sample of the idle server, then the Locust mix of ``targets.toml`` ([run]: tills,
   phones, dashboards, their weights and paces; 40 users rather than the 200 of the peak
   that ``make loadtest`` measures, which is beyond what one process serves on the 2-core
   machine: a soak holds a sustained load, not a backlog) as a subprocess with connection churn turned on
   (``LOADTEST_CHURN_S``: every phone closes its socket, half of the time abruptly, logs
   out, logs in again with a code and resumes about once a minute; ``LOADTEST_TILL_DROP``:
   5 % of a till's task runs start on a new connection) and a push deadline for delivery,
   not speed (``LOADTEST_PUSH_DEADLINE_MS``: a push later than 10 s counts as missing);
3. samples of the server process after the warm-up and then every interval until the end,
   and once more when Locust has stopped and the server has settled: resident memory and
   open file descriptors (prometheus-client's process collector on ``/metrics``, or
   ``/proc`` through psutil with several workers), asyncio tasks, PostgreSQL pool
   connections in use and idle, the process's Redis pool connections in use and idle (all
   from ``/metrics``: ``backend.ops.sampler``), Redis ``INFO clients`` (the whole Redis
   server: anything else using it counts too, so it is shown but not judged), open
   WebSockets, and the HTTP request rate the server counted;
4. judges them (``judge``): under load, each of memory, descriptors, tasks and the two
   pools may grow from the first sample after the warm-up to the median of the last three
   by at most its limit in ``LIMITS`` (a share of the first sample or a number of units,
   whichever is larger); after the load, the sockets are all closed, the pools hold nothing
   in use, and tasks and descriptors are back to the idle sample's (descriptors: plus the
   connections the pools kept); Locust must have counted no failure at all (requests,
   pushes, socket drops, seq gaps); then ``astrocoffee ledger verify`` on the run's database;
5. writes ``loadtests/reports/soak-<date>.md`` (the checks, the series, Locust's summary)
   beside Locust's HTML, CSV and JSON and the server's log, drops the database (unless
   ``--keep-db``) and exits 1 if anything is not flat, failed or does not verify, 2 when the
   run could not be set up.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from devkit.ports import free_port
from devkit.processes import ROOT, AppProcess, raise_open_files_limit
from loadtests.figures import merged, read_stats, window
from loadtests.locust_cli import locust_command, locust_executable, run_locust
from loadtests.report import REPORTS, print_written
from loadtests.soak_checks import judge
from loadtests.soak_report import write_report
from loadtests.soak_samples import Recorder
from loadtests.stage import SetupError, clean_up, ledger_verify, prepare_stage, start_server
from loadtests.targets import TARGETS, load_targets, seconds

SETTLE_S = 30  # after Locust: the longest wait for the sockets to close, then a sampler tick
SAMPLER_TICK_S = 6  # backend.ops.sampler samples every 5 s
# The churn that Locust's users are run with (``loadtests.users.config``):
# flag -> (its environment variable, the default, what it means).
CHURN_FLAGS = {
    "--churn-s": (
        "SOAK_CHURN_S",
        "60",
        "mean seconds between a phone's close, log out, log in, reopen (0: none)",
    ),
    "--till-drop": (
        "SOAK_TILL_DROP",
        "0.05",
        "share of a till's task runs that start on a new connection (0: none)",
    ),
    "--push-deadline-ms": (
        "SOAK_PUSH_DEADLINE_MS",
        "10000",
        "a push to the buyer's phone later than this counts as missing (not latency)",
    ),
}


def env_default(name: str, default: str) -> str:
    return os.environ.get(name) or default


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.soak",
        description="Soak test: the Locust mix with connection churn and a leak check.",
    )
    parser.add_argument("--targets", type=Path, default=TARGETS)
    parser.add_argument("--duration", default=env_default("SOAK_DURATION", "10m"))
    parser.add_argument(
        "--users",
        type=int,
        default=int(env_default("SOAK_USERS", "40")),
        help="Locust users, split by [run.weights] (default 40: a sustained load, not a peak)",
    )
    parser.add_argument("--spawn-rate", type=float)
    parser.add_argument("--warmup", default=env_default("SOAK_WARMUP", "60s"))
    parser.add_argument("--interval", default=env_default("SOAK_INTERVAL", "60s"))
    for flag, (variable, default, meaning) in CHURN_FLAGS.items():
        parser.add_argument(
            flag, type=float, default=float(env_default(variable, default)), help=meaning
        )
    parser.add_argument("--members", type=int)
    parser.add_argument("--stores", type=int)
    parser.add_argument("--terminals-per-store", type=int)
    parser.add_argument("--server-workers", type=int)
    parser.add_argument("--keep-db", action="store_true", help="do not drop the run's database")
    args = parser.parse_args(argv)
    for name in ("duration", "warmup", "interval"):
        try:
            seconds(getattr(args, name))
        except ValueError as exc:
            parser.error(f"--{name}: {exc}")
    return args


# --- the run ------------------------------------------------------------------------------


def soak(args: argparse.Namespace) -> int:
    from backend.servers import ensure_servers
    from backend.settings import load_settings

    locust = locust_executable()
    if locust is None:
        return 2
    config = load_targets(args.targets, args)
    run_cfg = config["run"]
    run_s = seconds(str(run_cfg["duration"]))
    warmup_s, interval_s = seconds(args.warmup), seconds(args.interval)
    configured = load_settings()
    embedded = configured.uses_embedded_servers
    settings, handles = ensure_servers(configured)
    assert settings.database_url and settings.redis_url
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S")
    REPORTS.mkdir(parents=True, exist_ok=True)
    prefix_path = REPORTS / f"soak-{stamp}"
    setup = (
        f"{run_cfg['users']} users (weights "
        f"{', '.join(f'{k} {v}' for k, v in run_cfg['weights'].items())}), spawn rate "
        f"{run_cfg['spawn_rate']}/s, {run_cfg['duration']}; warm-up {args.warmup}, a sample "
        f"every {args.interval}; churn: every phone about every {args.churn_s:g} s (close, log "
        f"out, log in, resume), {args.till_drop:.0%} of till task runs on a new connection; "
        f"push deadline {args.push_deadline_ms:.0f} ms; {run_cfg['members']} members, "
        f"{run_cfg['stores']} stores x {run_cfg['terminals_per_store']} terminals; "
        f"{run_cfg['server_workers']} server worker(s); "
        f"{'embedded' if embedded else 'external'} PostgreSQL and Redis; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    )
    print(f"soak {stamp}: {setup}", flush=True)
    private = Path(tempfile.mkdtemp(prefix="astrocoffee-soak-"))
    otp_code = f"{secrets.randbelow(10**6):06d}"
    server: AppProcess | None = None
    recorder: Recorder | None = None
    try:
        stage = prepare_stage(
            settings,
            run_cfg,
            credentials=private / "credentials.json",
            extra_env={
                "ASTROCOFFEE_DEV_OTP_CODE": otp_code,
                "ASTROCOFFEE_OTP_SENDS_PER_PHONE": "1000000",
            },
        )
    except SetupError as exc:
        shutil.rmtree(private, ignore_errors=True)
        print(f"loadtests.soak: {exc}", file=sys.stderr)
        return 2
    try:
        port = free_port()
        server_log = prefix_path.with_name(prefix_path.name + "-server.log")
        try:
            server = start_server(
                stage, port=port, workers=run_cfg["server_workers"], log_path=server_log
            )
        except RuntimeError as exc:
            print(f"loadtests.soak: {exc}; see {server_log.relative_to(ROOT)}", file=sys.stderr)
            return 2
        recorder = Recorder(port=port, server_pid=server.pid, redis_url=stage.redis_url)
        recorder.schedule(warmup_s=warmup_s, interval_s=interval_s, run_s=run_s)
        time.sleep(SAMPLER_TICK_S)  # one tick of the server's sampler, nothing else running
        recorder.take("idle", -1.0)
        locust_log = prefix_path.with_name(prefix_path.name + "-locust.log")
        started = time.monotonic()
        watch = run_locust(
            locust_command(
                locust, run_cfg, port=port, prefix_path=prefix_path, log_path=locust_log
            ),
            {
                **stage.env,
                "LOADTEST_CREDENTIALS": str(stage.credentials),
                "LOADTEST_TARGETS": str(args.targets.resolve()),
                "LOADTEST_CHURN_S": str(args.churn_s),
                "LOADTEST_TILL_DROP": str(args.till_drop),
                "LOADTEST_PUSH_DEADLINE_MS": str(args.push_deadline_ms),
            },
            log_path=locust_log,
            server_pid=server.pid,
            limit_s=run_s + 180,
            every_second=recorder.every_second,
        )
        ended = time.monotonic()
        locust_s = ended - started
        deadline = ended + SETTLE_S
        while time.monotonic() < deadline:  # the sockets close as Locust's process exits
            last = recorder.take("settling", time.monotonic() - started)
            if last is not None and last.websockets == 0:
                break
            time.sleep(2)
        recorder.samples = [s for s in recorder.samples if s.label != "settling"]
        time.sleep(SAMPLER_TICK_S)  # the sampled gauges (tasks, pools) catch up
        recorder.take("after", time.monotonic() - started)
        cpu = watch.summary()
        stats = read_stats(prefix_path, locust_log)
        if stats is None:
            return 2
        totals = merged(stats, window(stats))
        checks = judge(recorder.samples, failures=totals["failures"], requests=totals["requests"])
        server.stop(timeout_s=30)
        server = None
        verified, detail = ledger_verify(stage.env)
        checks.append(("ledger verify on the run's database", "0 mismatches", detail, verified))
        notes = [setup, cpu, f"Locust ran {locust_s:.0f} s."]
        notes += [f"Sampling problem: {error}" for error in recorder.errors]
        flat = write_report(
            prefix_path.with_name(prefix_path.name + ".md"),
            header=f"run of {stamp}",
            notes=notes,
            checks=checks,
            samples=recorder.samples,
            stats=stats,
            prefix_path=prefix_path,
        )
        print_written(prefix_path)
        return 0 if flat else 1
    finally:
        if server is not None:
            server.stop(timeout_s=30)
        if recorder is not None:
            recorder.close()
        clean_up(settings, stage, keep=args.keep_db)
        shutil.rmtree(private, ignore_errors=True)
        del handles


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_open_files_limit()
    os.environ.setdefault("PICCOLO_CONF", "db.piccolo_conf")
    return soak(args)


if __name__ == "__main__":
    raise SystemExit(main())
