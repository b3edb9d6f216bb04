"""Every request, push and socket figure of this Locust process, minute by minute: whether a
run stays flat as its tables grow (issue #24), which Locust's own statistics (one histogram
per entry for the whole run) cannot say. Also when each failure came, and when this process
itself stalled: a greenlet that asks to sleep 10 ms and measures how late it woke. A stall
of the load generator (its collector, 200 users on one gevent hub) delays what it measures
as much as a slow server does, so a late push right after one is the client's, not the
server's.

Counted as Locust counts them (``events.request``, every outcome), from the start or from
the moment the spawn completes when Locust resets its statistics then (``--reset-stats``),
and written at the test's stop to ``<csv prefix>-intervals-<pid>.json``; ``loadtests.
intervals`` merges the files of every process into the report.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import gevent
from locust import events

from loadtests.intervals import STALL_MS

INTERVAL_S = 60
TICK_S = 0.01


class Intervals:
    started = time.monotonic()
    # "<type> <name>" -> interval index -> response time in whole ms -> count
    times: defaultdict[str, defaultdict[int, defaultdict[int, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )

    failures: list[tuple[float, str, float]] = []  # (seconds in, label, response time ms)
    stalls: list[tuple[float, float]] = []  # (seconds in, ms late)
    ticker: Any = None
    environment: Any = None

    @classmethod
    def restart(cls) -> None:
        cls.started = time.monotonic()
        cls.times.clear()
        cls.failures.clear()
        cls.stalls.clear()

    @classmethod
    def tick(cls) -> None:
        while True:
            before = time.monotonic()
            gevent.sleep(TICK_S)
            late_ms = (time.monotonic() - before - TICK_S) * 1000
            if late_ms > STALL_MS:
                cls.stalls.append((round(time.monotonic() - cls.started, 3), round(late_ms, 1)))


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    Intervals.restart()
    if Intervals.ticker is None:
        Intervals.ticker = gevent.spawn(Intervals.tick)


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    # spawning_complete tells only the user count: whether Locust resets its statistics
    # then is the environment's, kept from here.
    Intervals.environment = environment


@events.spawning_complete.add_listener
def _on_spawning_complete(user_count: int, **_: Any) -> None:
    if getattr(Intervals.environment, "reset_stats", False):
        Intervals.restart()


@events.request.add_listener
def _on_request(
    request_type: str, name: str, response_time: float, exception: Any = None, **_: Any
) -> None:
    seconds_in = time.monotonic() - Intervals.started
    label = f"{request_type} {name}"
    Intervals.times[label][int(seconds_in // INTERVAL_S)][round(response_time or 0)] += 1
    if exception is not None:
        Intervals.failures.append((round(seconds_in, 3), label, round(response_time or 0, 1)))


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    if Intervals.ticker is not None:
        Intervals.ticker.kill(block=False)
        Intervals.ticker = None
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if not prefix:
        return
    written = {
        "interval_s": INTERVAL_S,
        "times": Intervals.times,
        "failures": Intervals.failures,
        "stalls": Intervals.stalls,
    }
    Path(f"{prefix}-intervals-{os.getpid()}.json").write_text(json.dumps(written), encoding="utf-8")
