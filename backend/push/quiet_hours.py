"""Quiet hours: push waits, in the member's local time, until the quiet window ends; nothing
is dropped for being quiet. A window is two clock times in minutes after local midnight;
``start > end`` spans midnight (22:00-08:00), equal times mean no quiet hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.local_time import instant_of

DEFAULT_FROM = 22 * 60
DEFAULT_UNTIL = 8 * 60


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: int = DEFAULT_FROM  # minutes after local midnight
    end: int = DEFAULT_UNTIL

    def due_at(self, at: datetime, where: ZoneInfo) -> datetime:
        """When a push queued at ``at`` may go: ``at`` itself, or the end of the quiet window
        it falls in (a wall clock the zone skips begins when the clock jumps past it)."""
        local = at.astimezone(where)
        minute = local.hour * 60 + local.minute
        if self.start == self.end:
            return at
        if self.start < self.end:
            quiet, end_day = self.start <= minute < self.end, local.date()
        else:  # over midnight: the evening part ends tomorrow, the morning part today
            quiet = minute >= self.start or minute < self.end
            end_day = local.date() + timedelta(days=1 if minute >= self.start else 0)
        if not quiet:
            return at
        wall = datetime.combine(end_day, clock(self.end))
        return instant_of(wall, where)


def clock(minutes: int) -> time:
    return time(hour=minutes // 60, minute=minutes % 60)


def minutes_of(text: str) -> int:
    """``"22:30"`` as minutes after midnight (the schema checked the pattern)."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)
