"""How late the event loop runs, and what held it when it ran very late.

Everything a serving process does shares one event loop, so a request's latency is its own
work plus whatever held the loop meanwhile. A heartbeat task asks to wake every ``interval_s``
and records how late it woke (``astrocoffee_event_loop_lag_seconds``): the loop's queueing
delay, the figure to read beside a p99 that climbs (issue #24).

With ``stall_ms`` set (``ASTROCOFFEE_LOOP_STALL_MS``; 0, the default, is off), a thread also
watches the heartbeat; once it is ``stall_ms`` overdue the thread samples the loop thread's
Python stack every few milliseconds until the loop moves, and logs the stall's length with the
stacks seen most, innermost frames last. The stdlib's asyncio debug mode names slow callbacks
too, but only the callback, after it ended, at a cost on every step; this costs nothing
until a stall and says where the loop was during it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import sys
import threading
import time
import traceback

from prometheus_client import Histogram

log = logging.getLogger(__name__)

LOOP_LAG = Histogram(
    "astrocoffee_event_loop_lag_seconds",
    "How late the event loop ran a timer that was due (its queueing delay; sampled by a "
    "heartbeat task every 50 ms).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
_SAMPLE_EVERY_S = 0.003  # the watcher's stack samples during a stall
_FRAMES_SHOWN = 14


class LoopWatch:
    """The heartbeat task, and with ``stall_ms`` the watcher thread."""

    def __init__(self, *, interval_s: float = 0.05, stall_ms: int = 0):
        self._interval_s = interval_s
        self._stall_s = stall_ms / 1000
        self._beat = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_thread = threading.get_ident()

    async def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        self._task = asyncio.create_task(self._heartbeat(), name="loop-watch")
        if self._stall_s > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, name="loop-watch", daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None

    async def _heartbeat(self) -> None:
        while True:
            due = time.monotonic() + self._interval_s
            await asyncio.sleep(self._interval_s)
            woke = time.monotonic()
            self._beat = woke
            LOOP_LAG.observe(max(0.0, woke - due))

    def _watch(self) -> None:
        """The watcher thread: the heartbeat is due every interval; a stall is the time past
        that by more than ``stall_s``."""
        limit = self._interval_s + self._stall_s
        while not self._stop.wait(self._stall_s / 2):
            beat = self._beat
            if time.monotonic() - beat < limit:
                continue
            stacks: collections.Counter[tuple[str, ...]] = collections.Counter()
            while self._beat == beat and not self._stop.is_set():
                frame = sys._current_frames().get(self._loop_thread)
                if frame is not None:
                    stacks[_stack(frame)] += 1
                time.sleep(_SAMPLE_EVERY_S)
            held_ms = (time.monotonic() - beat - self._interval_s) * 1000
            samples = sum(stacks.values())
            lines = [f"event loop stalled {held_ms:.0f} ms ({samples} stack samples)"]
            for stack, seen in stacks.most_common(3):
                lines.append(f"  {seen} of {samples}:")
                lines.extend(f"    {line}" for line in stack)
            log.warning("\n".join(lines))


def _stack(frame: object) -> tuple[str, ...]:
    summary = traceback.extract_stack(frame)[-_FRAMES_SHOWN:]  # type: ignore[arg-type]
    return tuple(f"{f.filename}:{f.lineno} {f.name}" for f in summary)
