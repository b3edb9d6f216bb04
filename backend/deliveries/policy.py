"""When to try a failed delivery again: exponential backoff with jitter, or what the receiver
asked for (``Retry-After``), capped."""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class Backoff:
    max_attempts: int = 10
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 600.0

    def delay(self, attempts: int) -> timedelta:
        """Exponential backoff with full jitter, so that receivers coming back up are not
        met by every waiting message at the same instant."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempts - 1))
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311

    def wait(self, attempts: int, asked: timedelta | None, cap: timedelta) -> timedelta:
        """Before the next try: what the receiver asked (``Retry-After``, at most ``cap``),
        else the backoff of the attempts made."""
        return self.delay(attempts) if asked is None else min(asked, cap)


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as seconds or an HTTP date (RFC 9110 10.2.3); None when absent or bad."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))
