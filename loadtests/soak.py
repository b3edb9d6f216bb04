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
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devkit.ports import free_port
from devkit.processes import ROOT, AppProcess, raise_open_files_limit
from loadtests.figures import merged, read_stats, window
from loadtests.locust_cli import locust_command, locust_executable, run_locust
from loadtests.report import REPORTS, failure_lines, print_written, request_table
from loadtests.stage import SetupError, clean_up, ledger_verify, prepare_stage, start_server
from loadtests.targets import TARGETS, load_targets, seconds

# How much a series may grow under load, from the first sample after the warm-up to the
# median of the last three (a leak raises them all; a spike of requests in flight, one):
# (share of the first sample, units), whichever is larger.
LIMITS: dict[str, tuple[float, float]] = {
    "rss_mib": (0.10, 16.0),
    "fds": (0.10, 20.0),
    "tasks": (0.10, 20.0),
    "db_pool": (0.0, 2.0),
    "redis_pool": (0.20, 5.0),
}
# After the load: tasks and descriptors back to the idle sample's, give or take this many.
AFTER_SLACK = {"tasks": 5, "fds": 5}
SETTLE_S = 30  # after Locust: the longest wait for the sockets to close, then a sampler tick
SAMPLER_TICK_S = 6  # backend.ops.sampler samples every 5 s


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
    parser.add_argument(
        "--churn-s",
        type=float,
        default=float(env_default("SOAK_CHURN_S", "60")),
        help="mean seconds between a phone's close, log out, log in, reopen (0: none)",
    )
    parser.add_argument(
        "--till-drop",
        type=float,
        default=float(env_default("SOAK_TILL_DROP", "0.05")),
        help="share of a till's task runs that start on a new connection (0: none)",
    )
    parser.add_argument(
        "--push-deadline-ms",
        type=float,
        default=float(env_default("SOAK_PUSH_DEADLINE_MS", "10000")),
        help="a push to the buyer's phone later than this counts as missing (not latency)",
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


# --- samples ------------------------------------------------------------------------------


@dataclass
class Sample:
    label: str
    at_s: float  # seconds since Locust started (negative: before)
    rss_mib: float
    fds: int
    tasks: int
    db_in_use: int
    db_idle: int
    redis_in_use: int
    redis_idle: int
    redis_clients: int | None  # INFO clients of the whole Redis server
    websockets: int
    requests: float  # the server's HTTP requests so far
    rate: float | None = None  # HTTP requests/s since the previous sample

    @property
    def db_pool(self) -> int:
        return self.db_in_use + self.db_idle

    @property
    def redis_pool(self) -> int:
        return self.redis_in_use + self.redis_idle


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The server's /metrics: sample name -> [(labels, value)]."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
        text = answer.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def total(
    metrics: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    return sum(
        value
        for have, value in metrics.get(name, [])
        if all(have.get(k) == v for k, v in labels.items())
    )


@dataclass
class Recorder:
    """Takes the samples of one server process (and its workers, if any)."""

    port: int
    server_pid: int
    redis_url: str
    samples: list[Sample] = field(default_factory=list)
    marks: list[float] = field(default_factory=list)  # when to sample, seconds into the run
    errors: list[str] = field(default_factory=list)
    _redis: Any = None

    def schedule(self, *, warmup_s: float, interval_s: float, run_s: float) -> None:
        """After the warm-up, then every interval, and 5 s before Locust's end."""
        end = run_s - 5
        mark = warmup_s
        while mark <= end:
            self.marks.append(mark)
            mark += interval_s
        if not self.marks or end - self.marks[-1] >= min(15.0, interval_s / 2):
            self.marks.append(end)

    def every_second(self, elapsed: float) -> None:
        if self.marks and elapsed >= self.marks[0]:
            self.marks.pop(0)
            first = not any(s.at_s >= 0 for s in self.samples)
            self.take("warm" if first else "load", elapsed)

    def redis_clients(self) -> int | None:
        from redis import Redis
        from redis.exceptions import RedisError

        try:
            if self._redis is None:
                self._redis = Redis.from_url(self.redis_url, socket_timeout=10)
            return int(self._redis.info("clients")["connected_clients"])
        except RedisError as exc:
            self.errors.append(f"Redis INFO clients: {exc}")
            return None

    def process_figures(
        self, metrics: dict[str, list[tuple[dict[str, str], float]]]
    ) -> tuple[float, int]:
        """(RSS MiB, open fds): the process collector's, or /proc of the process and its
        workers (prometheus-client's multiprocess mode has no process collector)."""
        if "process_resident_memory_bytes" in metrics and "process_open_fds" in metrics:
            return (
                total(metrics, "process_resident_memory_bytes") / 2**20,
                int(total(metrics, "process_open_fds")),
            )
        import psutil

        main = psutil.Process(self.server_pid)
        rss = fds = 0
        for process in (main, *main.children(recursive=True)):
            try:
                rss += process.memory_info().rss
                fds += process.num_fds()
            except psutil.Error:
                continue
        return rss / 2**20, fds

    def take(self, label: str, at_s: float) -> Sample | None:
        try:
            metrics = scrape(self.port)
        except (urllib.error.URLError, OSError) as exc:
            self.errors.append(f"{label} at {at_s:.0f} s: /metrics did not answer: {exc}")
            return None
        rss, fds = self.process_figures(metrics)
        pool = "astrocoffee_db_pool_connections"
        redis_pool = "astrocoffee_redis_pool_connections"
        sample = Sample(
            label=label,
            at_s=at_s,
            rss_mib=rss,
            fds=fds,
            tasks=int(total(metrics, "astrocoffee_asyncio_tasks")),
            db_in_use=int(total(metrics, pool, node="primary", state="in_use")),
            db_idle=int(total(metrics, pool, node="primary", state="idle")),
            redis_in_use=int(total(metrics, redis_pool, state="in_use")),
            redis_idle=int(total(metrics, redis_pool, state="idle")),
            redis_clients=self.redis_clients(),
            websockets=int(total(metrics, "astrocoffee_websocket_connections")),
            requests=total(metrics, "astrocoffee_requests_total"),
        )
        if label in ("warm", "load") and self.samples and at_s > self.samples[-1].at_s:
            last = self.samples[-1]
            sample.rate = (sample.requests - last.requests) / (at_s - last.at_s)
        self.samples.append(sample)
        print(f"sample {describe(sample)}", flush=True)
        return sample

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()


def clock(at_s: float) -> str:
    sign = "-" if at_s < 0 else ""
    whole = int(abs(at_s))
    return f"{sign}{whole // 60}:{whole % 60:02d}"


def describe(s: Sample) -> str:
    return (
        f"{s.label} t={clock(s.at_s)}: RSS {s.rss_mib:.1f} MiB, {s.fds} fds, {s.tasks} tasks, "
        f"DB pool {s.db_in_use}/{s.db_idle}, Redis pool {s.redis_in_use}/{s.redis_idle}, "
        f"Redis clients {s.redis_clients}, {s.websockets} WebSockets"
    )


# --- judging ------------------------------------------------------------------------------

Check = tuple[str, str, str, bool]  # (what, limit, measured, met)


def growth_check(name: str, title: str, unit: str, under_load: list[Sample]) -> Check:
    first = float(getattr(under_load[0], name))
    late = float(statistics.median(getattr(s, name) for s in under_load[1:][-3:]))
    share, units = LIMITS[name]
    limit = max(share * first, units)
    grew = late - first
    rule = f"<= +{limit:.0f} {unit}" + (f" (max of {share:.0%}, {units:.0f})" if share else "")
    return (
        f"{title}: growth under load",
        rule,
        f"{first:.0f} -> {late:.0f} ({grew:+.0f} {unit})",
        grew <= limit,
    )


def judge(samples: list[Sample], *, failures: int, requests: int) -> list[Check]:
    checks: list[Check] = []
    idle = next((s for s in samples if s.label == "idle"), None)
    under_load = [s for s in samples if s.at_s >= 0 and s.label != "after"]
    after = next((s for s in samples if s.label == "after"), None)
    if len(under_load) < 2:
        checks.append(("samples under load", ">= 2", str(len(under_load)), False))
    else:
        for name, title, unit in (
            ("rss_mib", "resident memory", "MiB"),
            ("fds", "open file descriptors", "fds"),
            ("tasks", "asyncio tasks", "tasks"),
            ("db_pool", "PostgreSQL pool connections", "conns"),
            ("redis_pool", "Redis pool connections (this process)", "conns"),
        ):
            checks.append(growth_check(name, title, unit, under_load))
    if idle is None or after is None:
        checks.append(("idle and after-load samples", "both", "missing", False))
    else:
        checks.append(
            ("WebSockets open after the load", "0", str(after.websockets), after.websockets == 0)
        )
        checks.append(
            (
                "PostgreSQL pool in use after the load",
                "0",
                str(after.db_in_use),
                after.db_in_use == 0,
            )
        )
        checks.append(
            (
                "Redis pool in use after the load",
                f"<= {idle.redis_in_use} (idle sample)",
                str(after.redis_in_use),
                after.redis_in_use <= idle.redis_in_use,
            )
        )
        checks.append(
            (
                "asyncio tasks back to idle after the load",
                f"<= {idle.tasks} + {AFTER_SLACK['tasks']}",
                f"{idle.tasks} idle -> {after.tasks}",
                after.tasks <= idle.tasks + AFTER_SLACK["tasks"],
            )
        )
        kept = max(0, after.db_pool - idle.db_pool) + max(0, after.redis_pool - idle.redis_pool)
        checks.append(
            (
                "open fds back to idle after the load",
                f"<= {idle.fds} + {kept} pooled + {AFTER_SLACK['fds']}",
                f"{idle.fds} idle -> {after.fds}",
                after.fds <= idle.fds + kept + AFTER_SLACK["fds"],
            )
        )
    checks.append(
        (
            "Locust failures: every request, push and socket",
            "0",
            f"{failures} of {requests}",
            requests > 0 and failures == 0,
        )
    )
    return checks


# --- report -------------------------------------------------------------------------------


def series_table(samples: list[Sample]) -> list[str]:
    lines = [
        "| sample | t (m:ss) | RSS MiB | open fds | asyncio tasks | DB pool in use / idle "
        "| Redis pool in use / idle | Redis INFO clients (whole server) | WebSockets open "
        "| HTTP req/s (server) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in samples:
        rate = f"{s.rate:.1f}" if s.rate is not None else ""
        clients = str(s.redis_clients) if s.redis_clients is not None else "?"
        lines.append(
            f"| {s.label} | {clock(s.at_s)} | {s.rss_mib:.1f} | {s.fds} | {s.tasks} | "
            f"{s.db_in_use} / {s.db_idle} | {s.redis_in_use} / {s.redis_idle} | {clients} | "
            f"{s.websockets} | {rate} |"
        )
    return lines


def write_report(
    path: Path,
    *,
    header: str,
    notes: list[str],
    checks: list[Check],
    samples: list[Sample],
    stats: list[dict[str, Any]],
    prefix_path: Path,
) -> bool:
    flat = all(ok for *_, ok in checks)
    failed = sum(not ok for *_, ok in checks)
    totals = merged(stats, window(stats))
    lines = [
        f"# Soak test ({header})",
        "",
        *(f"{note}\n" for note in notes),
        "| check | limit | measured | met? |",
        "| --- | --- | --- | --- |",
        *(f"| {w} | {lim} | {m} | {'yes' if ok else 'NO'} |" for w, lim, m, ok in checks),
        "",
        f"**{'Flat, no failures, ledger verified.' if flat else f'Checks failed: {failed} of {len(checks)}.'}**",
        "",
        "## The server process, sampled",
        "",
        "`idle`: before Locust; `warm`: after the warm-up; `load`: every interval; `after`: once "
        "Locust stopped and the sockets closed. DB and Redis pools: this process's connections "
        "(`astrocoffee_db_pool_connections`, `astrocoffee_redis_pool_connections`); Redis INFO "
        "clients: every client of the Redis server (this sampler's own connection and anything "
        "else using that server included).",
        "",
        *series_table(samples),
        "",
        "## Locust",
        "",
        f"{totals['requests']} requests, pushes and sockets, {totals['failures']} failures, "
        f"{totals['rps']:.1f}/s over {window(stats):.0f} s.",
        "",
        *request_table(stats),
    ]
    failures = failure_lines(prefix_path)
    if failures:
        lines += ["", "## Most frequent failures (Locust's CSV)", "", *failures]
    text = "\n".join(lines) + "\n"
    path.write_text(text, encoding="utf-8")
    print()
    print(text)
    return flat


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
