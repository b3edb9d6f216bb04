"""What one Locust process shares between its users: the seed, the members whose sockets
it holds, the tills' customers in flight, the pushes seen and awaited."""

from __future__ import annotations

import itertools
import json
from typing import Any

from locust import events

from loadtests.users.config import CREDENTIALS, RNG, WORKERS


class Shared:
    """State of this process: the seed, the members whose sockets it holds, pushes seen."""

    credentials: dict[str, Any] | None = None
    members: list[dict[str, Any]] = []
    free_members: list[dict[str, Any]] = []  # this process's share, not signed in yet
    followed: dict[str, dict[str, Any]] = {}  # member id -> member, while a socket is open
    opened_at: dict[str, float] = {}  # member id -> monotonic time its socket became ready
    busy: set[str] = set()  # members with a till's request in flight (one till at a time)
    available: dict[str, int] = {}  # member id -> available points, as last answered
    pushed: dict[str, tuple[float, float]] = {}  # purchase id -> (latency ms, monotonic)
    expected: dict[str, tuple[float, float, str]] = {}  # purchase id -> (sent, deadline, member)
    terminal_counter = itertools.count()
    store_counter = itertools.count()
    stopping = False
    watcher: Any = None

    @classmethod
    def load(cls, environment: Any) -> dict[str, Any]:
        if cls.credentials is None:
            try:
                data = json.loads(CREDENTIALS.read_text(encoding="utf-8"))
            except FileNotFoundError as exc:
                raise RuntimeError(
                    f"{CREDENTIALS} is missing: run python -m loadtests.seed (or loadtests.run)"
                ) from exc
            cls.credentials = data
            cls.members = data["members"]
            index = worker_index(environment)
            cls.free_members = [m for i, m in enumerate(cls.members) if i % WORKERS == index]
            RNG.shuffle(cls.free_members)
        return cls.credentials


def worker_index(environment: Any) -> int:
    index = getattr(environment.runner, "worker_index", 0) or 0
    return max(0, int(index)) % WORKERS


def next_turn(counter: Any, environment: Any) -> int:
    """This user's turn among the users of its kind in every worker: the seat it takes."""
    return next(counter) * WORKERS + worker_index(environment)


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    Shared.stopping = False


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    Shared.stopping = True
