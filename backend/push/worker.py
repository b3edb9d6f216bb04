"""``astrocoffee push-worker``: sends due push deliveries until told to stop (the feed that
queues them is a job of the scheduler, ``backend.push.queue.feed_push``).

SIGTERM lets the batch in hand finish and be recorded; a worker killed outright loses nothing
(its batch's transaction rolls back and the deliveries stay pending)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from backend.push.providers import PushProvider
from backend.push.queue import PushPolicy, deliver_push_due

log = logging.getLogger(__name__)


async def push_until(
    stopping: asyncio.Event,
    providers: Mapping[str, PushProvider],
    policy: PushPolicy,
    *,
    idle_s: float = 1.0,
) -> None:
    log.info("push worker started with %s", ", ".join(sorted(providers)) or "no provider")
    while not stopping.is_set():
        try:
            attempted = await deliver_push_due(providers, policy)
        except Exception:  # PostgreSQL away: nothing was marked; wait and try again.
            log.exception("push round failed")
            attempted = 0
        if attempted == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), idle_s)
    log.info("push worker stopped after finishing its batch")
