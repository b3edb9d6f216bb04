"""``astrocoffee partner-webhooks``: sends due partner webhook deliveries until told to stop
(the feed that queues them is a job of the scheduler, ``backend.partners.feed``).

SIGTERM lets the batch in hand finish and be recorded; a worker killed outright loses nothing
(its batch's transaction rolls back and the deliveries stay pending)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from backend.partners.delivery import (
    DeliveryPolicy,
    PartnerClient,
    deliver_due,
    sample_partner_figures,
)

log = logging.getLogger(__name__)
IDLE_POLL_S = 1.0
FIGURES_EVERY_S = 5.0


async def send_until(
    stopping: asyncio.Event,
    client: PartnerClient,
    policy: DeliveryPolicy,
    *,
    batch_size: int = 50,
    idle_poll_s: float = IDLE_POLL_S,
) -> None:
    log.info("partner webhook worker started")
    sampled = 0.0
    while not stopping.is_set():
        try:
            sent = await deliver_due(client, policy, batch_size=batch_size)
            if time.monotonic() - sampled > FIGURES_EVERY_S:
                await sample_partner_figures()
                sampled = time.monotonic()
        except Exception:  # PostgreSQL away: nothing was marked; wait and try again.
            log.exception("partner webhook round failed")
            sent = 0
        if sent == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), idle_poll_s)
    log.info("partner webhook worker stopped after finishing its batch")
