"""The soak test's verdict (``judge``): does the server stay flat under load and return to
its idle figures after it, with no Locust failure? Each check is (what, limit, measured,
met)."""

from __future__ import annotations

import statistics

from loadtests.soak_samples import Sample

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
