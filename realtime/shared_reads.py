"""The stored-event reads of every socket of a process, shared.

When the hub gets Redis back after a drop, every socket on the process must check whether it
missed anything, all at once: with 50,000 sockets that was two replays each, 100,000 queries
on the primary within seconds. Shared, the check costs one query per few hundred streams
(each socket asks its streams' newest seqs, and the asks of the same moment go out as one
``current_seqs``) plus one replay per stream that really has a gap; sockets asking for the
same events (every member socket follows the broadcast stream) share one query.

A shared replay may have been started a moment before a socket asked: an event committed in
between is still delivered, as any live event the socket's cursor finds a gap before
triggers a replay of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol


class ReplaySource(Protocol):
    async def events_after(self, stream: str, after_seq: int, limit: int) -> list[bytes]:
        """Encoded envelopes with seq > ``after_seq``, oldest first, at most ``limit``."""

    async def current_seq(self, stream: str) -> int:
        """The seq of the stream's newest stored event (0 when none)."""

    async def current_seqs(self, streams: Sequence[str]) -> dict[str, int]:
        """``current_seq`` of each of ``streams``, in as few reads as the storage allows."""


class SharedReads:
    """A ``ReplaySource`` that coalesces concurrent reads of the same process's sockets."""

    def __init__(
        self, source: ReplaySource, *, gather_s: float = 0.002, batch_size: int = 500
    ) -> None:
        self._source = source
        self._gather_s = gather_s
        self._batch_size = batch_size
        self._replays: dict[tuple[str, int, int], asyncio.Future[list[bytes]]] = {}
        self._wanted: dict[str, asyncio.Future[int]] = {}
        self._flush: asyncio.TimerHandle | None = None
        self._batches: set[asyncio.Task[None]] = set()

    async def events_after(self, stream: str, after_seq: int, limit: int) -> list[bytes]:
        key = (stream, after_seq, limit)
        shared = self._replays.get(key)
        if shared is None:
            shared = asyncio.ensure_future(self._source.events_after(stream, after_seq, limit))
            self._replays[key] = shared
            shared.add_done_callback(lambda _: self._replays.pop(key, None))
        # Shielded: one socket closing while it waits must not cancel the others' read.
        return await asyncio.shield(shared)

    async def current_seq(self, stream: str) -> int:
        wanted = self._wanted.get(stream)
        if wanted is None:
            loop = asyncio.get_running_loop()
            wanted = loop.create_future()
            self._wanted[stream] = wanted
            if self._flush is None:
                self._flush = loop.call_later(self._gather_s, self._start_batch)
        return await asyncio.shield(wanted)

    async def current_seqs(self, streams: Sequence[str]) -> dict[str, int]:
        return await self._source.current_seqs(streams)

    def _start_batch(self) -> None:
        self._flush = None
        wanted, self._wanted = self._wanted, {}
        task = asyncio.ensure_future(self._answer(wanted))
        self._batches.add(task)  # kept until done: a task nobody references may be collected
        task.add_done_callback(self._batches.discard)

    async def _answer(self, wanted: dict[str, asyncio.Future[int]]) -> None:
        names = list(wanted)
        for start in range(0, len(names), self._batch_size):
            chunk = names[start : start + self._batch_size]
            try:
                seqs = await self._source.current_seqs(chunk)
            except Exception as exc:  # every asker gets the error, as from its own read
                for name in chunk:
                    if not wanted[name].done():
                        wanted[name].set_exception(exc)
                continue
            for name in chunk:
                if not wanted[name].done():
                    wanted[name].set_result(seqs.get(name, 0))
