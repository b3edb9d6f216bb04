"""``astrocoffee push-worker``: sends due push deliveries until told to stop (the feed that
queues them is a job of the scheduler, ``backend.push.queue.feed_push``).

SIGTERM lets the batch in hand finish and be recorded; a worker killed outright loses nothing
(its batch's transaction rolls back and the deliveries stay pending). The worker keeps one
circuit breaker per provider (``backend.push.breakers``) and sets the queue's gauges every
few seconds (``backend.push.operations``). With ``live`` it does not push a device what its
open WebSocket showed (``backend.push.live_sockets``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping

from backend.push.breakers import ProviderBreakers
from backend.push.live_sockets import LiveDevices
from backend.push.operations import sample_push_figures
from backend.push.providers import PushProvider
from backend.push.queue import PushPolicy, deliver_push_due

log = logging.getLogger(__name__)

FIGURES_EVERY_S = 5.0


async def push_until(
    stopping: asyncio.Event,
    providers: Mapping[str, PushProvider],
    policy: PushPolicy,
    *,
    idle_s: float = 1.0,
    breakers: ProviderBreakers | None = None,
    live: LiveDevices | None = None,
) -> None:
    log.info("push worker started with %s", ", ".join(sorted(providers)) or "no provider")
    breakers = breakers or ProviderBreakers()
    sampled = float("-inf")
    while not stopping.is_set():
        try:
            attempted = await deliver_push_due(providers, policy, breakers=breakers, live=live)
            if time.monotonic() - sampled > FIGURES_EVERY_S:
                await sample_push_figures()
                sampled = time.monotonic()
        except Exception:  # PostgreSQL away: nothing was marked; wait and try again.
            log.exception("push round failed")
            attempted = 0
        if attempted == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), idle_s)
    log.info("push worker stopped after finishing its batch")
