"""Where the machine's CPU went while Locust ran: every process, the server (and its
workers), Locust; PostgreSQL and Redis are the rest."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


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
        # The machine's CPU times about once a second: the worst 10 s of stolen time.
        self._machine_seconds: list[Any] = [self._machine_start]

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
            self._machine_seconds.append(self._psutil.cpu_times())
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
            f"else ran on this machine meanwhile. {self._stolen()}"
        )

    def _stolen(self) -> str:
        """Time the machine's CPUs waited for the disk, and time its hypervisor gave them to
        other guests (``steal``, counted as busy above): a stall of the host is no stall of
        this code, and a run's worst seconds should be read beside it."""
        samples = [*self._machine_seconds, self._machine_end]

        def share(start: Any, end: Any, field: str) -> float:
            total = sum(end) - sum(start)
            return (getattr(end, field, 0) - getattr(start, field, 0)) / total if total else 0.0

        first, last = samples[0], samples[-1]
        worst = max(
            (share(samples[i], samples[i + 10], "steal") for i in range(len(samples) - 10)),
            default=0.0,
        )
        return (
            f"Stolen by the hypervisor: {share(first, last, 'steal'):.1%} of the CPUs' time "
            f"(the worst 10 s: {worst:.1%}); waiting for the disk: "
            f"{share(first, last, 'iowait'):.1%}."
        )
