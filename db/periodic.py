"""A call every few seconds in a task of its own, from ``start`` until ``stop``, that a
failure does not end (it is logged, and the call is made again next time).

The read replica's lag watch (``db.replica``) and the process's gauges
(``backend.ops.sampler``) sample this way; it lives here, in the lowest layer, so that both
may use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(
        self, call: Callable[[], Awaitable[object]], *, interval_s: float, name: str
    ) -> None:
        """``name``: the task's name, and what the log says failed."""
        self._call = call
        self._interval_s = interval_s
        self._name = name
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """The first call one interval from now (a caller that wants one at once makes it)."""
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def call_safely(self) -> None:
        try:
            await self._call()
        except Exception:  # A failed call must not end the calls, nor stop a start.
            log.exception("%s failed", self._name)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.call_safely()
