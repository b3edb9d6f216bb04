"""``astrocoffee partner-webhooks``: feeds and sends partner webhook deliveries until told to
stop, on the delivery workers' loop (``backend.deliveries.worker``).

Each round reads the member streams (``backend.partners.feed``: what committed since the last
round, about a second ago) and sends a batch of due deliveries. SIGTERM lets the batch in hand
finish and be recorded; a worker killed outright loses nothing (its batch's transaction rolls
back and the deliveries stay pending)."""

from __future__ import annotations

import asyncio
import logging

from backend.deliveries.worker import feed_now, work_until
from backend.partners.delivery import (
    DeliveryPolicy,
    PartnerClient,
    deliver_due,
    sample_partner_figures,
)
from backend.partners.feed import feed_partners

log = logging.getLogger(__name__)
IDLE_POLL_S = 1.0


async def send_until(
    stopping: asyncio.Event,
    client: PartnerClient,
    policy: DeliveryPolicy,
    *,
    batch_size: int = 50,
    idle_poll_s: float = IDLE_POLL_S,
) -> None:
    async def round() -> int:
        await feed_now(feed_partners(purge=False), "partner feed")
        return await deliver_due(client, policy, batch_size=batch_size)

    await work_until(
        stopping,
        what="partner webhook worker",
        round=round,
        sample=sample_partner_figures,
        idle_s=idle_poll_s,
    )
