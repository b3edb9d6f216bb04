"""One socket following its streams, without a task, a queue or a buffer of its own while idle.

An idle socket is the common case (a phone open on the card screen), so everything a socket
needs only while it has something to send is made when that happens and dropped after: the
pending items (a deque) and the task that writes them exist only while items wait, and a
timer only while live events are held for the client's first frame. The hub calls
``deliver``/``catch_up`` and the socket's own handler calls ``request``; all of them only
append and, when needed, start the writer, so nothing here blocks the hub's listener.

The writer owns the cursors (``seqs``) and fills any gap from durable storage before sending,
so the client sees seq n, n+1, ... with no gap and no duplicate across the switch from replay
to live. A client that lets ``queue_size`` items pile up is marked ``too_slow`` (and its
socket closed by the gateway with 4429) instead of growing memory; a writer that fails
(a stored-event read that failed) has it closed with 1011, so the client resumes elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from realtime import metrics
from realtime.channels import BROADCAST
from realtime.live_sockets import LiveMark
from realtime.protocol import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_TOO_SLOW,
    ResyncFrame,
    encode,
    envelope_position,
)
from realtime.shared_reads import ReplaySource

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    auth_timeout_s: float = 5.0
    queue_size: int = 256
    max_frame_bytes: int = 4096
    max_replay: int = 1000
    # Malformed frames answered with an error frame before the socket is closed (1008).
    max_bad_frames: int = 20
    # After ``ready``, live events wait this long for the client's ``resume`` (or any first
    # frame), so that a resume's replay comes before them (see ``StreamFollower.hold``). A
    # client that gave its position on connect (``?last_seq=``) waits for nothing.
    resume_wait_s: float = 2.0


@dataclass(frozen=True, slots=True)
class Resume:
    last_seq: int
    broadcast_last_seq: int | None = None


@dataclass(frozen=True, slots=True)
class Control:
    raw: bytes


class _CatchUp:
    __slots__ = ()


CATCH_UP = _CatchUp()
# A live envelope is its bytes as Redis gave them (no wrapper object per event).
Item = bytes | Resume | Control | _CatchUp


class StreamFollower:
    """A hub ``Subscriber``: one socket's cursor per stream it follows (its own, and for
    members the broadcast stream). Envelopes name their stream only when it is not the
    socket's own (broadcasts)."""

    __slots__ = (
        "_close",
        "_config",
        "_gone",
        "_hold_timer",
        "_hold_until",
        "_pending",
        "_replay",
        "_socket",
        "_writer",
        "live",
        "seqs",
        "stream",
        "too_slow",
    )

    def __init__(
        self,
        *,
        socket: Any,
        stream: str,
        replay: ReplaySource,
        config: GatewayConfig,
        last_seq: int,
        also: tuple[str, ...] = (),
        close: Callable[[Any, int, str], None] | None = None,
        live: LiveMark | None = None,
    ) -> None:
        self.stream = stream
        # The record of the device's open socket, when the client named its device.
        self.live = live
        self.seqs: dict[str, int] = {stream: last_seq, **dict.fromkeys(also, 0)}
        self.too_slow = False
        self._socket = socket
        self._replay = replay
        self._config = config
        self._close = close
        self._gone = False
        self._pending: deque[Item] | None = None
        self._writer: asyncio.Task[None] | None = None
        # Live events are held until this monotonic time, or the client's first frame; None:
        # not held. ``hold`` moves it (the gateway holds everything until ``ready`` is sent).
        # One timer, only while events are held (``_release``).
        self._hold_until: float | None = time.monotonic() + config.resume_wait_s
        self._hold_timer: asyncio.TimerHandle | None = None

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(self.seqs)

    @property
    def idle(self) -> bool:
        """Nothing of its own beyond its cursors: no writer task, no buffer, no timer."""
        return self._writer is None and self._pending is None and self._hold_timer is None

    @property
    def last_seq(self) -> int:
        return self.seqs[self.stream]

    @last_seq.setter
    def last_seq(self, value: int) -> None:
        self.seqs[self.stream] = value

    # -- hub and handler side (never blocks) ----------------------------------------------
    def deliver(self, raw: bytes) -> None:
        self._offer(raw)

    def catch_up(self) -> None:
        self._offer(CATCH_UP)

    def request(self, item: Resume | Control) -> None:
        """A client frame's answer. The first one ends the hold and goes before the held
        live events (a resume's replay must come before them)."""
        self._offer(item)

    def hold(self, seconds: float) -> None:
        """Hold live events for ``seconds`` from now (``math.inf``: until the next call or
        the client's first frame)."""
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        self._hold_until = time.monotonic() + seconds
        if self._pending and seconds != math.inf:
            self._hold_timer = asyncio.get_running_loop().call_later(seconds, self._release)

    def release(self) -> None:
        """End the hold now: what was held goes out (a client whose position needed nothing
        replayed)."""
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        self._release()

    def stop(self) -> None:
        """The socket is gone: drop what waits and the writer, take nothing more."""
        self._gone = True
        self._pending = None
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None

    def _give_up(self, code: int, reason: str) -> None:
        """Stop, and have the gateway close the socket with ``code`` (its reader then ends):
        ``close(socket, code, reason)``, one function for every socket."""
        writer = self._writer
        self._writer = None  # not cancelled when it is the task calling this
        self.stop()
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
        if self._close is not None:
            self._close(self._socket, code, reason)

    def _offer(self, item: Item) -> None:
        if self._gone:
            return
        pending = self._buffer()
        if len(pending) >= self._config.queue_size:
            self.too_slow = True
            self._give_up(CLOSE_TOO_SLOW, "client too slow")
            return
        until = self._hold_until
        if until is None:
            pending.append(item)
        elif isinstance(item, Resume | Control):
            self._end_hold()
            pending.appendleft(item)
        else:
            pending.append(item)
            left = until - time.monotonic()
            if left > 0:
                if self._hold_timer is None and left != math.inf:
                    self._hold_timer = asyncio.get_running_loop().call_later(left, self._release)
                return
            self._end_hold()
        self._start_writer()

    def _buffer(self) -> deque[Item]:
        if self._pending is None:
            self._pending = deque()
        return self._pending

    def _end_hold(self) -> None:
        self._hold_until = None
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None

    def _release(self) -> None:
        self._hold_timer = None
        self._hold_until = None
        if self._pending:
            self._start_writer()

    def _start_writer(self) -> None:
        if self._writer is None and not self._gone:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    # -- writer (a task only while items wait) --------------------------------------------
    async def _write(self) -> None:
        pending = self._pending
        try:
            while pending:
                await self._handle(pending.popleft())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("WebSocket writer of %s failed: %r", self.stream, exc)
            self._give_up(CLOSE_INTERNAL_ERROR, "could not send the stream")
            return
        if self.live is not None:  # one record write per drained batch, never awaited
            self.live.drained()
        # Idle again: nothing of the writer stays (no await between the last check and here).
        self._writer = None
        if self._pending is pending:
            self._pending = None

    async def _handle(self, item: Item) -> None:
        if isinstance(item, bytes):
            named, seq = envelope_position(item)
            stream = named or self.stream
            if stream not in self.seqs:
                return
            if seq > self.seqs[stream] + 1:
                await self._replay_after(stream, self.seqs[stream])
            if seq == self.seqs[stream] + 1:
                await self._send(item)
                self.seqs[stream] = seq
                if self.live is not None:  # inline: every event of every socket comes here
                    self._showed(stream, seq)
        elif isinstance(item, Control):
            await self._send(item.raw)
        elif isinstance(item, Resume):
            await self._resume(self.stream, item.last_seq)
            if item.broadcast_last_seq is not None and BROADCAST in self.seqs:
                await self._resume(BROADCAST, item.broadcast_last_seq)
        else:
            # After a Redis drop: replay only the streams that moved on meanwhile (the
            # newest seqs of all sockets are read together, see ``SharedReads``).
            positions = list(self.seqs.items())
            newest = await asyncio.gather(*(self._replay.current_seq(s) for s, _ in positions))
            for (stream, seq), current in zip(positions, newest, strict=True):
                if current > seq:
                    await self._replay_after(stream, seq)

    async def _resume(self, stream: str, last_seq: int) -> None:
        current = await self._replay.current_seq(stream)
        if last_seq > current or current - last_seq > self._config.max_replay:
            await self._resync(stream, current)
            return
        self.seqs[stream] = last_seq
        self._showed(stream, last_seq)  # the client says it has those
        if current > last_seq:  # nothing to read when the client is current
            await self._replay_after(stream, last_seq)

    async def _replay_after(self, stream: str, after_seq: int) -> None:
        metrics.REPLAYED.inc()
        limit = self._config.max_replay
        envelopes = await self._replay.events_after(stream, after_seq, limit + 1)
        if len(envelopes) > limit:
            await self._resync(stream, await self._replay.current_seq(stream))
            return
        for raw in envelopes:
            await self._send(raw)
            self.seqs[stream] = envelope_position(raw)[1]
            self._showed(stream, self.seqs[stream])

    def _showed(self, stream: str, seq: int) -> None:
        """The client has its own stream up to ``seq``: sent by this socket, or said by the
        client (its position on connect or resume). Not a position the socket moved to
        without sending the events (``ready``'s, a resync's): push must still tell those."""
        if self.live is not None and stream == self.stream:
            self.live.saw(seq)

    def client_has(self, last_seq: int) -> None:
        """The client's position on connect, already current (nothing replayed)."""
        self._showed(self.stream, last_seq)

    async def _resync(self, stream: str, current: int) -> None:
        named = None if stream == self.stream else stream
        await self._send(encode(ResyncFrame(last_seq=current, stream=named)))
        self.seqs[stream] = current

    async def _send(self, raw: bytes) -> None:
        await self._socket.send_data(raw.decode(), mode="text")
        metrics.DELIVERED.inc()
