"""What every push provider (APNs, FCM, Web Push) does when its service says "too many" once
and names the seconds to wait: that send is a retry after those seconds, never a failure, and
the next one is delivered. Each provider's test sets its own fake up to say it."""

from __future__ import annotations

from backend.push.providers import Delivered, Device, PushProvider, RetryAfter
from tests.backend.push.samples import points_earned


async def a_retry_then_delivered(provider: PushProvider, device: Device, *, seconds: float) -> None:
    """Two sends to ``device``: the first told to wait ``seconds``, the second delivered."""
    first = await provider.send(device, points_earned())
    second = await provider.send(device, points_earned())
    assert isinstance(first, RetryAfter) and first.seconds == seconds
    assert second == Delivered()
