from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from realtime.follower import GatewayConfig, Resume, StreamFollower


class NeverSends:
    """A socket whose client stopped reading and never sent a first frame: everything is
    held, nothing is written."""

    async def send_data(self, data: Any, mode: str = "text") -> None:
        raise AssertionError("not reached")


class NoReplay:
    async def events_after(self, member_id: str, after_seq: int, limit: int) -> list[bytes]:
        return []

    async def current_seq(self, member_id: str) -> int:
        return 0

    async def current_seqs(self, streams: Sequence[str]) -> dict[str, int]:
        return dict.fromkeys(streams, 0)


async def test_a_client_that_cannot_keep_up_is_marked_too_slow_instead_of_buffering() -> None:
    stream = StreamFollower(
        socket=NeverSends(),  # type: ignore[arg-type]
        stream="member:m",
        replay=NoReplay(),
        config=GatewayConfig(queue_size=8),
        last_seq=0,
    )
    for seq in range(1, 9):
        stream.deliver(b'{"seq": %d}' % seq)
    assert not stream.too_slow
    stream.deliver(b'{"seq": 9}')
    assert stream.too_slow


class RecordingSocket:
    def __init__(self) -> None:
        self.sent: list[int] = []

    async def send_data(self, data: Any, mode: str = "text") -> None:
        self.sent.append(int(json.loads(data)["seq"]))


class StoredEvents:
    """A member stream whose events 1..``newest`` are committed."""

    def __init__(self, newest: int) -> None:
        self.newest = newest

    async def events_after(self, member_id: str, after_seq: int, limit: int) -> list[bytes]:
        return [envelope(seq) for seq in range(after_seq + 1, self.newest + 1)][:limit]

    async def current_seq(self, member_id: str) -> int:
        return self.newest

    async def current_seqs(self, streams: Sequence[str]) -> dict[str, int]:
        return dict.fromkeys(streams, self.newest)


def envelope(seq: int) -> bytes:
    return json.dumps({"type": "balance.updated", "seq": seq, "ts": "t", "data": {}}).encode()


async def sent_after_writing(stream: StreamFollower, socket: RecordingSocket, count: int) -> None:
    """The follower writes by itself (a task only while items wait)."""
    try:
        for _ in range(200):
            if len(socket.sent) >= count:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # and nothing more comes
    finally:
        stream.stop()


def following_from_4(
    newest: int, resume_wait_s: float | None = None
) -> tuple[RecordingSocket, StreamFollower]:
    """A member's stream followed by a client that has seen seq 4, with ``newest`` stored
    (``resume_wait_s``: the gateway's, unless given)."""
    config = (
        GatewayConfig() if resume_wait_s is None else GatewayConfig(resume_wait_s=resume_wait_s)
    )
    socket = RecordingSocket()
    stream = StreamFollower(
        socket=socket,  # type: ignore[arg-type]
        stream="member:m",
        replay=StoredEvents(newest=newest),
        config=config,
        last_seq=4,
    )
    return socket, stream


async def test_live_events_before_the_resume_do_not_overtake_its_replay() -> None:
    """``ready`` said 4; sales 5 and 6 commit before the client's ``resume`` from 0 arrives.
    The client must get 1..6 in order, once each (it drops anything at or below its last)."""
    socket, stream = following_from_4(newest=6)
    stream.deliver(envelope(5))
    stream.deliver(envelope(6))
    stream.request(Resume(last_seq=0))
    await sent_after_writing(stream, socket, 6)
    assert socket.sent == [1, 2, 3, 4, 5, 6]


async def test_a_client_that_does_not_resume_gets_live_events_after_a_moment() -> None:
    socket, stream = following_from_4(newest=6, resume_wait_s=0.05)
    stream.deliver(envelope(5))
    stream.deliver(envelope(6))
    await sent_after_writing(stream, socket, 2)
    assert socket.sent == [5, 6]


async def test_a_follower_keeps_no_task_buffer_or_timer_once_it_has_sent_everything() -> None:
    """Most sockets are idle: what a socket needs to send exists only while it sends."""
    socket, stream = following_from_4(newest=5, resume_wait_s=0.05)
    assert stream.idle
    stream.deliver(envelope(5))  # held for the client's first frame: a timer and a buffer
    assert not stream.idle
    stream.request(Resume(last_seq=4))
    for _ in range(200):
        if socket.sent == [5] and stream.idle:
            break
        await asyncio.sleep(0.01)
    assert socket.sent == [5]
    assert stream.idle
    stream.deliver(envelope(6))
    for _ in range(200):
        if socket.sent == [5, 6] and stream.idle:
            break
        await asyncio.sleep(0.01)
    assert (socket.sent, stream.idle) == ([5, 6], True)
