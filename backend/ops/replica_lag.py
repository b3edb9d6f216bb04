"""The read replica's figures, as this process sees them (``db.replica``'s watcher): its lag
behind the primary, and whether lag-tolerant reads go to it now.

Set by the process sampler (``backend.ops.sampler``) from the watcher's last sample, not at
scrape time (see there why). A process with no replica configured exports neither.
"""

from __future__ import annotations

from prometheus_client import Gauge

from db.replica import current_watch

REPLICA_LAG = Gauge(
    "astrocoffee_db_replica_lag_seconds",
    "How far the read replica trails the primary (seconds; an upper bound, to within one "
    "sampling interval). 0 when it holds everything the primary had at the last sample; "
    "it keeps growing while the replica is unreachable.",
    multiprocess_mode="livemax",
)
REPLICA_SERVING = Gauge(
    "astrocoffee_db_replica_serving",
    "1 while lag-tolerant reads (history, reports, audit trail) go to the read replica (it "
    "is up and within ASTROCOFFEE_REPLICA_MAX_LAG_SECONDS), 0 while they go to the primary.",
    multiprocess_mode="livemin",
)


def sample_replica_lag() -> None:
    watch = current_watch()
    if watch is None:
        return
    state = watch.state
    if state.lag_s is not None:
        REPLICA_LAG.set(state.lag_s)
    REPLICA_SERVING.set(1 if state.serves_reads else 0)


def replica_check() -> str | None:
    """Readiness's line about the replica (None without one). Never a reason to be unready:
    its reads go to the primary meanwhile."""
    watch = current_watch()
    if watch is None:
        return None
    state = watch.state
    if state.serves_reads:
        return "ok"
    if state.lag_s is None:
        return "not measured yet (reads go to the primary)"
    if not state.reachable:
        return "unreachable (reads go to the primary)"
    return "lagging (reads go to the primary)"
