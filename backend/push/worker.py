"""``astrocoffee push-worker``: feeds and sends push deliveries until told to stop, on the
delivery workers' loop (``backend.deliveries.worker``).

Each round reads the member streams (``backend.push.queue.feed_push``: what committed since
the last round, about a second ago, so a sale reaches a closed app within seconds) and sends
a batch of due deliveries. SIGTERM lets the batch in hand finish and be recorded; a worker
killed outright loses nothing (its batch's transaction rolls back and the deliveries stay
pending). The worker keeps one circuit breaker per provider (``backend.push.breakers``) and
sets the queue's gauges every few seconds (``backend.push.operations``). With ``live`` it does
not push a device what its open WebSocket showed (``backend.push.live_sockets``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from backend.deliveries.worker import feed_now, work_until
from backend.push.breakers import ProviderBreakers
from backend.push.daily_cap import DAILY_CAP
from backend.push.live_sockets import LiveDevices
from backend.push.operations import sample_push_figures
from backend.push.providers import PushProvider
from backend.push.queue import PushPolicy, deliver_push_due, feed_push


async def push_until(
    stopping: asyncio.Event,
    providers: Mapping[str, PushProvider],
    policy: PushPolicy,
    *,
    idle_s: float = 1.0,
    breakers: ProviderBreakers | None = None,
    live: LiveDevices | None = None,
    daily_cap: int = DAILY_CAP,
) -> None:
    kept = breakers or ProviderBreakers()

    async def round() -> int:
        await feed_now(feed_push(daily_cap=daily_cap), "push feed")
        return await deliver_push_due(providers, policy, breakers=kept, live=live)

    names = ", ".join(sorted(providers)) or "no provider"
    await work_until(
        stopping,
        what=f"push worker ({names})",
        round=round,
        sample=sample_push_figures,
        idle_s=idle_s,
    )
