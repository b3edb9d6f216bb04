"""Keep the objects a process starts with out of the garbage collector's full passes.

Measured in the Locust mix (``make loadtest``, one worker): a full (generation 2) collection
walked the ~190,000 objects that startup leaves behind (modules, routes, the ORM's tables) and
stopped the event loop for 80 ms on average, 120 ms at worst, every 4 to 5 seconds. About 2 % of
requests were in flight during one, which is the whole p99 budget. Frozen (``gc.freeze``), they
are never walked again: full collections fell to ~25 ms, walking only what requests create.

Every pass is timed (``astrocoffee_gc_pause_seconds`` by generation, on /metrics): a pass
holds the event loop, and in the Locust mix the passes were the only task steps that held it
for 10 ms of CPU or more (issue #24: the relay, the maintenance round and the stats fan-out
never did), so this is where a p99 that climbs is looked for first.

Collected less often (``THRESHOLDS``): with Python's default (700, 10, 10) the purchases bench
ran a full pass every ~250 sales, 45-67 ms of CPU each on the shared 2-CPU machine (the gen-2
population is mostly what requests in flight hold), and GC took 0.29 ms per sale in passes of
1 ms or more. With (20,000, 20, 50) the same bench ran no generation 1 or 2 pass of 1 ms or
more, its longest pass was a 12.5 ms young one, and 0.05 ms per sale (issue #24). Young objects
are freed by reference counting as before; only cyclic garbage waits a little longer.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram

GC_PAUSES = Histogram(
    "astrocoffee_gc_pause_seconds",
    "Garbage collector passes by generation (each holds the event loop that long).",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
THRESHOLDS = (20_000, 20, 50)
_frozen = False
_pass_started = 0.0


def _time_pass(phase: str, info: dict[str, Any]) -> None:
    global _pass_started
    if phase == "start":
        _pass_started = time.perf_counter()
    else:
        GC_PAUSES.labels(str(info["generation"])).observe(time.perf_counter() - _pass_started)


def freeze_startup_objects() -> None:
    """Move everything alive now to the permanent generation, collect less often and time the
    passes, once per process.

    Once: tests start many apps in one process, and freezing again each time would keep
    every earlier test's garbage alive for good. No ``gc.collect()`` first: it would be the
    full pass this avoids, and the little garbage frozen with startup's objects is bounded.
    """
    global _frozen
    if not _frozen:
        gc.freeze()
        gc.set_threshold(*THRESHOLDS)
        gc.callbacks.append(_time_pass)
        _frozen = True
