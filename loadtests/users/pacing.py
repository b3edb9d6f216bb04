"""``poisson_pacing``: when a user starts its task runs (``[run.pace]`` in targets.toml)."""

from __future__ import annotations

import time
from typing import Any

from loadtests.users.config import RNG


def poisson_pacing(rate: float) -> Any:
    """A wait_time that starts a user's task runs as a Poisson process of ``rate`` per second,
    the model of customers who arrive independently of each other.

    Written here because Locust's pacings fit a load test badly. ``constant_throughput``
    phase-locks users: every user whose request was delayed by the same stall finishes with
    the others and starts again with them a second later. After a minute, most tills fired
    in one burst each second and the server was idle in between. Sampled in the server, no
    HTTP request was in flight 57 % of the time, then 100 to 200 at once. ``poisson`` waits
    after the task, so the rate falls by the response time. This one schedules starts apart
    from the answers: each start is one exponential gap after the previous *scheduled* start,
    and a user that has fallen behind catches up without waiting.
    """

    def wait_time(user: Any) -> float:
        now = time.monotonic()
        # Locust asks after each run; the first gap counts from the end of the first run,
        # whose start is not known here (it started at the user's spawn).
        due = getattr(user, "_poisson_due", now) + RNG.expovariate(rate)
        user._poisson_due = due
        return max(0.0, due - now)

    return wait_time
