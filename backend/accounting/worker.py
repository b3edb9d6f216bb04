"""``astrocoffee worker``: delivers the outbox until told to stop.

SIGTERM (or Ctrl-C) lets the batch in hand finish and be recorded, then exits; a worker
killed outright loses nothing either (see ``backend.accounting.outbox``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

from backend.accounting.client import AccountingClient
from backend.accounting.outbox import DeliveryPolicy, deliver_due, sample_outbox_figures

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.5
FIGURES_EVERY_S = 5.0


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
        log.info("outbox worker started")
        sampled = 0.0
        while not self.stopping.is_set():
            try:
                delivered = await deliver_due(
                    self._client, self._policy, batch_size=self._batch_size
                )
                if time.monotonic() - sampled > FIGURES_EVERY_S:
                    await sample_outbox_figures()
                    sampled = time.monotonic()
            except Exception:  # PostgreSQL away: wait and try again; nothing was marked.
                log.exception("outbox delivery round failed")
                delivered = 0
            if delivered == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self._idle_poll_s)
        log.info("outbox worker stopped after finishing its batch")
