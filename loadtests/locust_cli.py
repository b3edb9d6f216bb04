"""Locust's command lines: the headless run that ``loadtests.run`` and ``loadtests.soak``
start and follow (Locust is never imported here: it monkey-patches the process with
gevent), and the distributed run one starts by hand (``DISTRIBUTED``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devkit.processes import ROOT, stop
from loadtests.cpu import CpuWatch

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


def run_locust(
    command: list[str],
    env: dict[str, str],
    *,
    log_path: Path,
    server_pid: int,
    limit_s: float,
    every_second: Callable[[float], None] | None = None,
    how_long: str = "",
) -> CpuWatch:
    """Run Locust to its end (stopped after ``limit_s``), its output in ``<log_path>.out``
    (``tail -f`` it for live figures); the CPU it and the server used meanwhile."""
    live = log_path.with_suffix(".out")
    print(f"running: {' '.join(command)}", flush=True)
    print(f"{how_long}live figures: tail -f {live.relative_to(ROOT)}", flush=True)
    with live.open("wb") as output:
        watch = CpuWatch(server_pid)
        # Its exit status is non-zero whenever anything failed: the report says what.
        runner = subprocess.Popen(  # noqa: S603 - the venv's locust
            command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            watch.follow(runner, limit_s=limit_s, every_second=every_second)
        finally:
            stop(runner, timeout_s=30)
    return watch
