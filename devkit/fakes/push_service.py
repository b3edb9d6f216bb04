"""What the fakes of the push services share (``web_push``, ``fcm``, ``apns``): the switches
that make a push service refuse a device, ask to wait or fail, in the order a real one
decides, and the messages it took.

Switches, besides ``FakeSystem``'s (``fail_next``, ``down``, ``delay_s``, ``hang``):
``gone`` (device tokens or subscription ids it calls unregistered: 410, or the provider's
own word for it), ``too_many`` (the next N pushes answer 429 with ``Retry-After:
retry_after_s``). Each push taken is stamped with when it arrived (``received_at``, Unix
seconds: ``loadtests/bench_push.py`` measures sale-to-provider latency with it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from devkit.fakes.base import FAULTS, FakeSystem, Switches, count


def tokens(value: Any) -> set[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("must be a list of strings")
    return set(value)


class Arrivals(list[dict[str, Any]]):
    """The pushes a fake took, each stamped with when it arrived (``received_at``)."""

    def append(self, push: dict[str, Any]) -> None:
        push.setdefault("received_at", time.time())
        super().append(push)


@dataclass(frozen=True)
class Refusal:
    """A push refused before it was looked at: its status, and Retry-After if any."""

    status: int
    reason: str
    retry_after_s: int | None = None


@dataclass
class PushService(FakeSystem):
    gone: set[str] = field(default_factory=set)
    too_many: int = 0
    retry_after_s: int = 30
    # Every push taken: {"to": token or subscription id, "payload": what the device gets,
    # plus what the protocol says about it (ttl, collapse key, topic ...)}.
    received: list[dict[str, Any]] = field(default_factory=Arrivals)

    SWITCHES: ClassVar[Switches] = {
        **FAULTS,
        "gone": tokens,
        "too_many": count,
        "retry_after_s": count,
    }

    def switches(self) -> dict[str, Any]:
        return {**super().switches(), "gone": sorted(self.gone)}

    def refusal(self, to: str) -> Refusal | None:
        """What the switches make of a push to ``to``: ``gone`` first, then ``too_many``,
        then ``fail_next``; None when it goes on to the protocol's own checks."""
        if to in self.gone:
            return Refusal(410, "unregistered")
        if self.too_many > 0:
            self.too_many -= 1
            return Refusal(429, "too many requests", self.retry_after_s)
        if self.fail_next > 0:
            self.fail_next -= 1
            return Refusal(503, "try again later")
        return None

    def taken(self, to: str) -> list[dict[str, Any]]:
        return [push for push in self.received if push["to"] == to]

    def state(self) -> dict[str, Any]:
        return {"switches": self.switches(), "received": self.received}
