"""``astrocoffee worker``: delivers the outbox until told to stop.

SIGTERM (or Ctrl-C) lets the batch in hand finish and be recorded, then exits; a worker
killed outright loses nothing either (see ``backend.accounting.outbox``). The loop is every
delivery worker's (``backend.deliveries.worker``).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from backend.accounting.client import AccountingClient
from backend.accounting.outbox import DeliveryPolicy, deliver_due, sample_outbox_figures
from backend.deliveries.worker import work_until

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.5


class OutboxWorker:
    def __init__(
        self,
        *,
        client: AccountingClient,
        policy: DeliveryPolicy,
        batch_size: int = 20,
        idle_poll_s: float = IDLE_POLL_S,
    ) -> None:
        self._client = client
        self._policy = policy
        self._batch_size = batch_size
        self._idle_poll_s = idle_poll_s
        self.stopping = asyncio.Event()

    def stop_on_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, self.stopping.set)

    async def run(self) -> None:
        await work_until(
            self.stopping,
            what="outbox worker",
            round=lambda: deliver_due(self._client, self._policy, batch_size=self._batch_size),
            sample=sample_outbox_figures,
            idle_s=self._idle_poll_s,
        )
