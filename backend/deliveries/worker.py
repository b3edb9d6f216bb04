"""The loop of every delivery worker (``astrocoffee worker``, ``partner-webhooks``,
``push-worker``): a round until told to stop.

A round that took nothing is followed by an idle wait (cut short by the stop); one that took
something by the next round at once. The queue's figures are sampled every
``FIGURES_EVERY_S``. A failed round (PostgreSQL away) is logged and tried again after the idle
wait: nothing it took was marked, its transaction rolled back. The stop lets the round in hand
finish and be recorded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

FIGURES_EVERY_S = 5.0


async def work_until(
    stopping: asyncio.Event,
    *,
    what: str,
    round: Callable[[], Awaitable[int]],
    sample: Callable[[], Awaitable[None]],
    idle_s: float = 1.0,
    figures_every_s: float = FIGURES_EVERY_S,
) -> None:
    """Run ``round`` (how many deliveries it took) until ``stopping`` is set."""
    log.info("%s started", what)
    sampled = float("-inf")
    while not stopping.is_set():
        try:
            taken = await round()
            if time.monotonic() - sampled > figures_every_s:
                await sample()
                sampled = time.monotonic()
        except Exception:
            log.exception("%s: round failed", what)
            taken = 0
        if taken == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), idle_s)
    log.info("%s stopped after finishing its batch", what)


async def feed_now(feed: Awaitable[int], what: str) -> int:
    """A feed's run within a round (how many it queued): a failure is logged and the round
    goes on to send what is already queued."""
    try:
        return await feed
    except Exception:
        log.exception("%s failed", what)
        return 0
