"""``GET /v1/ws``: authenticate, join the hub, and stream events without gaps.

A member follows their own stream; staff follow one store's stream (``?store_id=``).

A socket costs what the framework's own idle WebSocket costs plus one ``StreamFollower``
(``realtime.follower``): the connection's handler task reads the client's frames itself, and
the follower makes a writer task and a buffer only while something waits to be sent. A
client that knows its position says so on connect (``?last_seq=``, and for members
``&broadcast_last_seq=``): its replay starts at once and no live event waits for a first
frame.

A member app that registered its device for push names it (``?device=<device id>``): the
socket then records in Redis how far it has shown the member's stream, and push does not
tell that device what it showed (``realtime.live_sockets``). A device id is not checked
against the database (a reconnect storm costs no query): the record is the member's own, so
a wrong id only ever matches none of the member's deliveries. A value that is not a UUID is
refused (1008); staff sockets ignore it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.handlers import WebsocketRouteHandler

from realtime import metrics
from realtime.channels import BROADCAST, MEMBER, kind_of
from realtime.drain import SocketDrain
from realtime.follower import Control, GatewayConfig, Resume, StreamFollower
from realtime.hub import Hub
from realtime.live_sockets import LiveSockets
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
    Seq,
    client_frame_decoder,
    encode,
)
from realtime.shared_reads import ReplaySource, SharedReads

__all__ = ["GatewayConfig", "StreamFollower", "create_gateway"]

log = logging.getLogger(__name__)

# What decoding a client frame may raise: not JSON, not a frame, or nested past the limit.
BAD_FRAME = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
_seq = msgspec.json.Decoder(Seq)


# (token, store_id asked for) -> the streams this caller follows (its own first), or None.
Authenticate = Callable[[str, str | None], Awaitable[tuple[str, ...] | None]]


def create_gateway(
    *,
    hub: Hub,
    authenticate: Authenticate,
    replay: ReplaySource,
    config: GatewayConfig,
    route_opt: dict[str, Any] | None = None,
    drain: SocketDrain | None = None,
    live: LiveSockets | None = None,
) -> WebsocketRouteHandler:
    """The ``/v1/ws`` route. It authenticates by itself (header, query or first frame), so
        ``route_opt`` should exclude it from the app's authentication middleware. Every socket
        of the route reads ``replay`` through one ``SharedReads``, and is known to ``drain``
        (closed over its window when the process stops, see ``realtime.drain``). With ``live``,
    member sockets that name their device record what they showed (``realtime.live_sockets``)."""
    replay = SharedReads(replay)
    drain = drain or SocketDrain(window_s=0)

    async def member_events(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        # Read from the raw scope: Litestar's parsed headers and query would be cached on the
        # connection for as long as it lives (~1.5 KiB a socket).
        query = _query(socket)
        position = _position(query)
        if position is None:
            await socket.close(code=CLOSE_POLICY_VIOLATION, reason="last_seq must be a seq")
            return
        device = _device(query)
        if device == "":
            await socket.close(code=CLOSE_POLICY_VIOLATION, reason="device must be a device id")
            return
        streams = await _authenticate(socket, query, authenticate, config)
        del query  # its token would otherwise stay in this frame for the socket's life
        if streams is None:
            return
        follower = StreamFollower(
            socket=socket,
            stream=streams[0],
            replay=replay,
            config=config,
            last_seq=0,
            also=streams[1:],
            close=_close_soon,
            live=(
                live.mark(streams[0], device)
                if live is not None and device and kind_of(streams[0])[0] == MEMBER
                else None
            ),
        )
        follower.hold(math.inf)  # nothing goes out before ``ready``
        for name in streams:
            await hub.join(name, follower)
        metrics.CONNECTIONS.inc()
        drain.opened(socket)
        try:
            await _ready(socket, follower, streams, position, replay, config)
            del position
            # The client's frames are read here, in the connection's own task and frame: no
            # task or coroutine frame of the gateway's is held for the socket's life.
            bad_frames, code = 0, None
            while code is None:
                event = await socket.receive()
                if event["type"] == "websocket.disconnect":
                    _count_close(event, follower)
                    break
                bad_frames, code = _answer(_frame(event), follower, config, bad_frames)
            if code is not None:
                reason = (
                    "frame too large" if code == CLOSE_MESSAGE_TOO_BIG else "too many bad frames"
                )
                metrics.CLOSED.labels(
                    "too_big" if code == CLOSE_MESSAGE_TOO_BIG else "bad_frames"
                ).inc()
                await _close(socket, code, reason)
        finally:
            follower.stop()
            metrics.CONNECTIONS.dec()
            drain.closed(socket)
            for name in streams:
                await hub.leave(name, follower)

    return websocket(
        "/v1/ws",
        opt={"exclude_from_auth": True, **(route_opt or {})},
        name="member_events",
        description="Live member events; see /asyncapi.json.",
    )(member_events)


def _current(follower: StreamFollower, last_seq: int, broadcast_last_seq: int | None) -> bool:
    """Whether the position a client gave is what ``ready`` just said (nothing to replay)."""
    broadcast = follower.seqs.get(BROADCAST)
    return last_seq == follower.last_seq and broadcast_last_seq in (None, broadcast)


def _query(socket: WebSocket[Any, Any, Any]) -> dict[str, str]:
    """The query parameters (the first of each name), parsed without caching them."""
    pairs = parse_qsl(socket.scope["query_string"].decode("latin-1"), keep_blank_values=True)
    return dict(reversed(pairs))


def _bearer(socket: WebSocket[Any, Any, Any]) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    for name, value in socket.scope["headers"]:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token if scheme.lower() == "bearer" else None
    return None


def _position(query: dict[str, str]) -> tuple[int | None, int | None] | None:
    """``?last_seq=`` and ``?broadcast_last_seq=`` (each None when absent); None when one
    is not a seq."""
    values: list[int | None] = []
    for name in ("last_seq", "broadcast_last_seq"):
        text = query.get(name)
        try:
            values.append(None if text is None else _seq.decode(text))
        except BAD_FRAME:
            return None
    return values[0], values[1]


def _device(query: dict[str, str]) -> str | None:
    """``?device=``: the device's id in canonical form, None when absent, "" when it is not
    a UUID."""
    text = query.get("device")
    if text is None:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return ""


# Closes asked for by followers (too slow, a failed writer), kept until done: one set for the
# process rather than a closure per socket.
_closing: set[asyncio.Task[None]] = set()


def _close_soon(socket: WebSocket[Any, Any, Any], code: int, reason: str) -> None:
    task = asyncio.ensure_future(_close(socket, code, reason))
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def _close(socket: WebSocket[Any, Any, Any], code: int, reason: str) -> None:
    if code == CLOSE_TOO_SLOW:
        log.info("closing slow WebSocket client")
        metrics.CLOSED.labels("too_slow").inc()
    with contextlib.suppress(Exception):
        await socket.close(code=code, reason=reason)


async def _authenticate(
    socket: WebSocket[Any, Any, Any],
    query: dict[str, str],
    authenticate: Authenticate,
    config: GatewayConfig,
) -> tuple[str, ...] | None:
    token = _bearer(socket) or query.get("token")
    store_id = query.get("store_id")
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


async def _ready(
    socket: WebSocket[Any, Any, Any],
    follower: StreamFollower,
    streams: tuple[str, ...],
    position: tuple[int | None, int | None],
    replay: ReplaySource,
    config: GatewayConfig,
) -> None:
    """Send ``ready`` with the streams' newest seqs, then resume from the client's position
    if it gave one (else hold live events for its first frame)."""
    # Read after the subscriptions are confirmed: every later commit arrives live.
    # Asked together: both land in the same batch of the shared reads.
    seqs = await asyncio.gather(*(replay.current_seq(name) for name in streams))
    follower.seqs.update(zip(streams, seqs, strict=True))
    ready = ReadyFrame(
        stream=follower.stream,
        last_seq=follower.last_seq,
        broadcast_last_seq=follower.seqs.get(BROADCAST),
    )
    await socket.send_data(encode(ready).decode())
    last_seq, broadcast_last_seq = position
    if last_seq is not None and _current(follower, last_seq, broadcast_last_seq):
        follower.client_has(last_seq)
        follower.release()  # nothing missed: no read at all (most of a storm)
    elif last_seq is not None:
        follower.request(Resume(last_seq, broadcast_last_seq))
    else:
        follower.hold(config.resume_wait_s)


def _count_close(event: Any, follower: StreamFollower) -> None:
    if not follower.too_slow:  # a close the gateway sent is counted where it was sent
        # 1012: this server is shutting down (a drain, not a problem); else the client left.
        code = event.get("code", 1000)
        metrics.CLOSED.labels("shutdown" if code == CLOSE_SERVICE_RESTART else "client").inc()


def _answer(
    text: str | bytes, stream: StreamFollower, config: GatewayConfig, bad_frames: int
) -> tuple[int, int | None]:
    """Handle one client frame: the count of bad frames so far, and a close code to close
    with (None: carry on)."""
    if len(text) > config.max_frame_bytes:
        return bad_frames, CLOSE_MESSAGE_TOO_BIG
    try:
        if isinstance(text, bytes):
            raise msgspec.DecodeError("binary frames are not part of the protocol")
        frame = client_frame_decoder.decode(text)
    except BAD_FRAME as exc:
        if bad_frames + 1 > config.max_bad_frames:
            return bad_frames + 1, CLOSE_POLICY_VIOLATION
        message = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        stream.request(Control(encode(ErrorFrame(code="bad_frame", message=message))))
        return bad_frames + 1, None
    if isinstance(frame, PingFrame):
        stream.request(_PONG)
    elif isinstance(frame, ResumeFrame):
        stream.request(Resume(frame.last_seq, frame.broadcast_last_seq))
    else:
        stream.request(
            Control(encode(ErrorFrame(code="already_authenticated", message="auth once")))
        )
    return bad_frames, None


_PONG = Control(encode(PongFrame()))


async def _receive(socket: WebSocket[Any, Any, Any]) -> str | bytes:
    """The client's next frame: its text, or its bytes if it is a binary frame (which
    ``receive_data(mode="text")`` would turn into "", past the size check)."""
    event = await socket.receive()
    if event["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(detail="disconnect event", code=event.get("code", 1000))
    return _frame(event)


def _frame(event: Any) -> str | bytes:
    """A ``websocket.receive`` event's text, or its bytes if it is a binary frame."""
    text, data = event.get("text"), event.get("bytes")
    if isinstance(text, str):
        return text
    return data if isinstance(data, bytes) else b""
