"""``GET /v1/ws``: authenticate, join the hub, and stream events without gaps.

A member follows their own stream; staff follow one store's stream (``?store_id=``).

Each socket has one writer task that owns its ``last_seq``. Live envelopes from the hub,
``resume`` requests and catch-up signals all pass through one bounded queue, and the writer
fills any gap from durable storage before sending, so the client sees seq n, n+1, ... with
no gap and no duplicate across the switch from replay to live. A client that lets the queue
fill up is closed with 4429 instead of growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.handlers import WebsocketRouteHandler

from realtime import metrics
from realtime.channels import BROADCAST
from realtime.hub import Hub
from realtime.protocol import (
    CLOSE_AUTH_TIMEOUT,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_POLICY_VIOLATION,
    CLOSE_SERVICE_RESTART,
    CLOSE_TOO_SLOW,
    CLOSE_UNAUTHORIZED,
    AuthFrame,
    ErrorFrame,
    PingFrame,
    PongFrame,
    ReadyFrame,
    ResumeFrame,
    ResyncFrame,
    client_frame_decoder,
    encode,
    envelope_position,
)
from realtime.shared_reads import ReplaySource, SharedReads

log = logging.getLogger(__name__)

# What decoding a client frame may raise: not JSON, not a frame, or nested past the limit.
BAD_FRAME = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)


# (token, store_id asked for) -> the streams this caller follows (its own first), or None.
Authenticate = Callable[[str, str | None], Awaitable[tuple[str, ...] | None]]


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    auth_timeout_s: float = 5.0
    queue_size: int = 256
    max_frame_bytes: int = 4096
    max_replay: int = 1000
    # Malformed frames answered with an error frame before the socket is closed (1008).
    max_bad_frames: int = 20
    # After ``ready``, live events wait this long for the client's ``resume`` (or any first
    # frame), so that a resume's replay comes before them (see ``write_forever``).
    resume_wait_s: float = 2.0


@dataclass(frozen=True, slots=True)
class _Live:
    raw: bytes


@dataclass(frozen=True, slots=True)
class _Resume:
    last_seq: int
    broadcast_last_seq: int | None = None


@dataclass(frozen=True, slots=True)
class _CatchUp:
    pass


@dataclass(frozen=True, slots=True)
class _Control:
    raw: bytes


_Item = _Live | _Resume | _CatchUp | _Control


class StreamFollower:
    """One socket following its stream (and, for members, the broadcast stream too).

    A hub ``Subscriber``. Keeps one cursor per stream; envelopes name their stream only when
    it is not the socket's own (broadcasts).
    """

    def __init__(
        self,
        *,
        socket: WebSocket[Any, Any, Any],
        stream: str,
        replay: ReplaySource,
        config: GatewayConfig,
        last_seq: int,
        also: tuple[str, ...] = (),
    ) -> None:
        self.stream = stream
        self.seqs: dict[str, int] = {stream: last_seq, **dict.fromkeys(also, 0)}
        self.too_slow = asyncio.Event()
        self._socket = socket
        self._replay = replay
        self._config = config
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=config.queue_size)

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(self.seqs)

    @property
    def last_seq(self) -> int:
        return self.seqs[self.stream]

    @last_seq.setter
    def last_seq(self, value: int) -> None:
        self.seqs[self.stream] = value

    # -- hub side (must not block) --------------------------------------------------------
    def deliver(self, raw: bytes) -> None:
        self._offer(_Live(raw))

    def catch_up(self) -> None:
        self._offer(_CatchUp())

    def request(self, item: _Resume | _Control) -> None:
        self._offer(item)

    def _offer(self, item: _Item) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.too_slow.set()

    # -- writer ---------------------------------------------------------------------------
    async def write_forever(self) -> None:
        """Send what the hub and the client's frames ask for, in order.

        Live events that arrive between ``ready`` and the client's first frame are held
        until that frame (normally ``resume``) is handled: sent first, they would overtake
        the resume's replay of what the client missed, which it would then drop as old
        (the soak saw 5, 6, 1, 2, 3, 4, 5, 6). Held events the replay already sent are
        dropped by seq. A client that never speaks gets them after ``resume_wait_s``.
        """
        held: list[_Item] = []
        deadline = asyncio.get_running_loop().time() + self._config.resume_wait_s
        while True:
            try:
                async with asyncio.timeout_at(deadline):  # only the wait, never the handling
                    item = await self._queue.get()
            except TimeoutError:
                break
            if isinstance(item, _Resume | _Control):
                await self._handle(item)
                break
            held.append(item)
            if len(held) > self._config.queue_size:
                self.too_slow.set()
                return
        for item in held:
            await self._handle(item)
        while True:
            await self._handle(await self._queue.get())

    async def _handle(self, item: _Item) -> None:
        if isinstance(item, _Control):
            await self._send(item.raw)
        elif isinstance(item, _Live):
            named, seq = envelope_position(item.raw)
            stream = named or self.stream
            if stream not in self.seqs:
                return
            if seq > self.seqs[stream] + 1:
                await self._replay_after(stream, self.seqs[stream])
            if seq == self.seqs[stream] + 1:
                await self._send(item.raw)
                self.seqs[stream] = seq
        elif isinstance(item, _Resume):
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

    async def _resync(self, stream: str, current: int) -> None:
        named = None if stream == self.stream else stream
        await self._send(encode(ResyncFrame(last_seq=current, stream=named)))
        self.seqs[stream] = current

    async def _send(self, raw: bytes) -> None:
        await self._socket.send_data(raw.decode(), mode="text")
        metrics.DELIVERED.inc()


def create_gateway(
    *,
    hub: Hub,
    authenticate: Authenticate,
    replay: ReplaySource,
    config: GatewayConfig,
    route_opt: dict[str, Any] | None = None,
) -> WebsocketRouteHandler:
    """The ``/v1/ws`` route. It authenticates by itself (header, query or first frame), so
    ``route_opt`` should exclude it from the app's authentication middleware. Every socket
    of the route reads ``replay`` through one ``SharedReads``."""
    replay = SharedReads(replay)

    async def member_events(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        streams = await _authenticate(socket, authenticate, config)
        if streams is None:
            return
        own, also = streams[0], streams[1:]
        follower = StreamFollower(
            socket=socket, stream=own, replay=replay, config=config, last_seq=0, also=also
        )
        for name in streams:
            await hub.join(name, follower)
        metrics.CONNECTIONS.inc()
        try:
            # Read after the subscriptions are confirmed: every later commit arrives live.
            # Asked together: both land in the same batch of the shared reads.
            seqs = await asyncio.gather(*(replay.current_seq(name) for name in streams))
            follower.seqs.update(zip(streams, seqs, strict=True))
            ready = ReadyFrame(
                stream=own,
                last_seq=follower.last_seq,
                broadcast_last_seq=follower.seqs.get(BROADCAST),
            )
            await socket.send_data(encode(ready).decode())
            await _run(socket, follower, config)
        finally:
            metrics.CONNECTIONS.dec()
            for name in streams:
                await hub.leave(name, follower)

    return websocket(
        "/v1/ws",
        opt={"exclude_from_auth": True, **(route_opt or {})},
        name="member_events",
        description="Live member events; see /asyncapi.json.",
    )(member_events)


async def _authenticate(
    socket: WebSocket[Any, Any, Any], authenticate: Authenticate, config: GatewayConfig
) -> tuple[str, ...] | None:
    header = socket.headers.get("authorization", "")
    token = header.partition(" ")[2] if header.lower().startswith("bearer ") else None
    token = token or socket.query_params.get("token")
    store_id = socket.query_params.get("store_id")
    if not token:
        try:
            first = await asyncio.wait_for(_receive(socket), timeout=config.auth_timeout_s)
        except TimeoutError:
            await socket.close(code=CLOSE_AUTH_TIMEOUT, reason="authenticate within the timeout")
            return None
        except WebSocketDisconnect:
            return None
        if len(first) > config.max_frame_bytes:
            await socket.close(code=CLOSE_MESSAGE_TOO_BIG, reason="frame too large")
            return None
        try:
            frame = None if isinstance(first, bytes) else client_frame_decoder.decode(first)
        except BAD_FRAME:
            frame = None
        if not isinstance(frame, AuthFrame):
            await socket.close(code=CLOSE_UNAUTHORIZED, reason="first frame must be auth")
            return None
        token = frame.token
        store_id = frame.store_id or store_id
    streams = await authenticate(token, store_id)
    if streams is None:
        await socket.close(code=CLOSE_UNAUTHORIZED, reason="invalid token or stream not allowed")
    return streams


async def _run(
    socket: WebSocket[Any, Any, Any], stream: StreamFollower, config: GatewayConfig
) -> None:
    writer = asyncio.create_task(stream.write_forever())
    reader = asyncio.create_task(_read(socket, stream, config))
    overflow = asyncio.create_task(stream.too_slow.wait())
    tasks = {writer, reader, overflow}
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task
    if overflow in done:
        log.info("closing slow WebSocket client of %s", stream.stream)
        metrics.CLOSED.labels("too_slow").inc()
        with contextlib.suppress(Exception):
            await socket.close(code=CLOSE_TOO_SLOW, reason="client too slow")
    elif reader in done and not reader.cancelled() and reader.exception() is None:
        code = reader.result()
        if code is not None:
            reason = "frame too large" if code == CLOSE_MESSAGE_TOO_BIG else "too many bad frames"
            metrics.CLOSED.labels(
                "too_big" if code == CLOSE_MESSAGE_TOO_BIG else "bad_frames"
            ).inc()
            with contextlib.suppress(Exception):
                await socket.close(code=code, reason=reason)
    elif writer in done and writer.exception() is not None:
        log.warning("WebSocket writer failed: %r", writer.exception())


async def _read(
    socket: WebSocket[Any, Any, Any], stream: StreamFollower, config: GatewayConfig
) -> int | None:
    """Handle client frames until the client leaves; return a close code to close with."""
    bad_frames = 0
    while True:
        try:
            text = await _receive(socket)
        except WebSocketDisconnect as gone:
            # 1012: this server is shutting down (a drain, not a problem); else the client left.
            reason = "shutdown" if gone.code == CLOSE_SERVICE_RESTART else "client"
            metrics.CLOSED.labels(reason).inc()
            return None
        if len(text) > config.max_frame_bytes:
            return CLOSE_MESSAGE_TOO_BIG
        try:
            if isinstance(text, bytes):
                raise msgspec.DecodeError("binary frames are not part of the protocol")
            frame = client_frame_decoder.decode(text)
        except BAD_FRAME as exc:
            bad_frames += 1
            if bad_frames > config.max_bad_frames:
                return CLOSE_POLICY_VIOLATION
            message = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            stream.request(_Control(encode(ErrorFrame(code="bad_frame", message=message))))
            continue
        if isinstance(frame, PingFrame):
            stream.request(_Control(encode(PongFrame())))
        elif isinstance(frame, ResumeFrame):
            stream.request(_Resume(frame.last_seq, frame.broadcast_last_seq))
        else:
            stream.request(
                _Control(encode(ErrorFrame(code="already_authenticated", message="auth once")))
            )


async def _receive(socket: WebSocket[Any, Any, Any]) -> str | bytes:
    """The client's next frame: its text, or its bytes if it is a binary frame (which
    ``receive_data(mode="text")`` would turn into "", past the size check)."""
    event = await socket.receive()
    if event["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(detail="disconnect event", code=event.get("code", 1000))
    text, data = event.get("text"), event.get("bytes")
    if isinstance(text, str):
        return text
    return data if isinstance(data, bytes) else b""
