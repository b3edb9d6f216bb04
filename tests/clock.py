"""The tests' clock: a ``with at(...)`` block in which the clock reads a given instant and
goes on ticking from it (time_machine), so that no test depends on today's date."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine


def at(when: datetime) -> time_machine.travel:
    """The clock reads ``when`` (and goes on ticking from it) inside the ``with`` block."""
    return time_machine.travel(when, tick=True)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """That instant in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
